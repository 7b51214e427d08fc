"""How many requests each call makes: a foreach of thousands of tiny tasks makes thousands of
small calls, so none may add a probe (a HEAD before a write, a listing before a read)."""

from __future__ import annotations

from collections import Counter

from flowkit_s3.backend import S3Backend


def test_each_small_call_is_one_request(s3_url: str) -> None:
    backend = S3Backend(s3_url)
    sent: Counter[str] = Counter()
    backend._clients().meta.events.register(
        "before-send.s3", lambda event_name, **_: sent.update([event_name.rsplit(".", 1)[1]])
    )

    def requests(call: object) -> dict[str, int]:
        sent.clear()
        assert callable(call)
        call()
        return dict(sent)

    assert requests(lambda: backend.put_new("runs/F/1/run.json", b"{}")) == {"PutObject": 1}
    assert requests(lambda: backend.put_new("runs/F/1/run.json", b"{}")) == {"PutObject": 1}
    assert requests(lambda: backend.put("leases/F/1.json", [b"a", b"b"])) == {"PutObject": 1}
    assert requests(lambda: backend.get("runs/F/1/run.json")) == {"GetObject": 1}
    assert requests(lambda: backend.open("runs/F/1/run.json").read()) == {"GetObject": 1}
    assert requests(lambda: backend.size("runs/F/1/run.json")) == {"HeadObject": 1}
    assert requests(lambda: backend.exists("runs/F/2/run.json")) == {"HeadObject": 1}
    assert requests(lambda: backend.list("runs/F")) == {"ListObjectsV2": 1}
    assert requests(lambda: list(backend.scan("runs"))) == {"ListObjectsV2": 1}
    assert requests(lambda: backend.delete("leases/F/1.json")) == {"DeleteObject": 1}
    assert requests(lambda: backend.move("runs/F/1/run.json", "aside/1")) == {
        "HeadObject": 1,
        "CopyObject": 1,
        "DeleteObject": 1,
    }
