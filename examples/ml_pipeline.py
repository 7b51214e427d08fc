"""An ML pipeline in miniature: ingest -> validate -> features -> train one model per
hyperparameter (foreach) -> pick the best -> evaluate -> deploy only if it is good enough.

Pure Python (no numpy needed): a ridge regression on synthetic data.

    python examples/ml_pipeline.py show
    python examples/ml_pipeline.py run --rows 500 --threshold 0.9
"""

import random

from flowkit import FlowSpec, Parameter, retry, step


def make_rows(n, seed):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        x1, x2 = rng.uniform(-1, 1), rng.uniform(-1, 1)
        rows.append({"x1": x1, "x2": x2, "y": 3.0 * x1 - 2.0 * x2 + 0.5 + rng.gauss(0, 0.1)})
    return rows


def fit_ridge(xs, ys, alpha):
    """Closed-form ridge regression for two features plus an intercept."""
    n = len(xs)
    mx = [sum(x[i] for x in xs) / n for i in range(2)]
    my = sum(ys) / n
    cx = [[x[0] - mx[0], x[1] - mx[1]] for x in xs]
    cy = [y - my for y in ys]
    a = sum(c[0] * c[0] for c in cx) + alpha
    b = sum(c[0] * c[1] for c in cx)
    d = sum(c[1] * c[1] for c in cx) + alpha
    e = sum(c[0] * y for c, y in zip(cx, cy, strict=True))
    f = sum(c[1] * y for c, y in zip(cx, cy, strict=True))
    det = a * d - b * b
    w = [(d * e - b * f) / det, (a * f - b * e) / det]
    return {"w": w, "b": my - w[0] * mx[0] - w[1] * mx[1], "alpha": alpha}


def r2(model, xs, ys):
    preds = [model["w"][0] * x[0] + model["w"][1] * x[1] + model["b"] for x in xs]
    mean = sum(ys) / len(ys)
    ss_res = sum((y - p) ** 2 for y, p in zip(ys, preds, strict=True))
    ss_tot = sum((y - mean) ** 2 for y in ys)
    return 1.0 - ss_res / ss_tot


class MLPipelineFlow(FlowSpec):
    """Train a model per hyperparameter, keep the best, deploy it if it is good enough."""

    rows = Parameter("rows", default=400, help="how many rows to ingest")
    seed = Parameter("seed", default=7, help="random seed for the synthetic data")
    threshold = Parameter("threshold", default=0.95, help="test R^2 needed to deploy")

    @retry(times=2)
    @step
    def start(self):
        """Ingest raw rows (here: synthetic; in real life a database or a bucket)."""
        self.raw = make_rows(self.rows, self.seed)
        self.next(self.validate)

    @step
    def validate(self):
        """Drop rows with missing or non-finite values and record how many were dropped."""
        clean = [r for r in self.raw if all(v == v and abs(v) < 1e9 for v in r.values())]
        self.dropped = len(self.raw) - len(clean)
        self.clean = clean
        self.next(self.features)

    @step
    def features(self):
        """Split into train and test sets of (features, target)."""
        cut = int(len(self.clean) * 0.8)
        self.train_x = [(r["x1"], r["x2"]) for r in self.clean[:cut]]
        self.train_y = [r["y"] for r in self.clean[:cut]]
        self.test_x = [(r["x1"], r["x2"]) for r in self.clean[cut:]]
        self.test_y = [r["y"] for r in self.clean[cut:]]
        self.alphas = [0.01, 0.1, 1.0, 10.0, 100.0]
        self.next(self.train, foreach="alphas")

    @step
    def train(self):
        """Fit one model for this task's alpha and score it on the training set."""
        self.model = fit_ridge(self.train_x, self.train_y, self.input)
        self.score = r2(self.model, self.train_x, self.train_y)
        self.next(self.pick)

    @step
    def pick(self, inputs):
        """Keep the model with the best training score."""
        best = max(inputs, key=lambda i: i.score)
        self.model, self.train_score = best.model, best.score
        self.merge_artifacts(inputs, include=["test_x", "test_y"])
        self.next(self.evaluate)

    @step
    def evaluate(self):
        """Score the chosen model on held-out data and decide whether to deploy."""
        self.test_score = r2(self.model, self.test_x, self.test_y)
        self.decision = "deploy" if self.test_score >= self.threshold else "hold"
        self.next({"deploy": self.deploy, "hold": self.hold}, condition="decision")

    @step
    def deploy(self):
        """Publish the model (here: record what would be published)."""
        self.published = {"alpha": self.model["alpha"], "r2": round(self.test_score, 4)}
        self.next(self.end)

    @step
    def hold(self):
        """Keep the current model; say why."""
        self.published = None
        self.reason = f"test R^2 {self.test_score:.3f} is below {self.threshold}"
        self.next(self.end)

    @step
    def end(self):
        """Done: the run's artifacts say what was trained and whether it shipped."""
        if self.published:
            print(f"deployed: alpha={self.published['alpha']}, test R^2 {self.published['r2']}")
        else:
            print(f"held back: {self.reason}")


if __name__ == "__main__":
    MLPipelineFlow()
