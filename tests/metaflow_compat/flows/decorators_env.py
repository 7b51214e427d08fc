"""Flows with Metaflow's environment decorators."""

import os
import sys

from flowkit import FlowSpec, conda, conda_base, environment, pypi, pypi_base, step


@conda_base(python=f"{sys.version_info[0]}.{sys.version_info[1]}")
class CondaHereFlow(FlowSpec):
    @conda(libraries={"click": ">=8.0"})
    @step
    def start(self):
        import click

        self.click_major = int(click.__version__.split(".")[0])
        self.next(self.end)

    @pypi(packages={"cloudpickle": "0.0.1"})  # installed, at another version
    @step
    def end(self):
        pass


@pypi_base(packages={"flowkit-surely-missing-pkg": "1.2.3", "click": ""})
class PypiMissingFlow(FlowSpec):
    @pypi(packages={"another-missing-one": ">=2"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class DisabledCondaFlow(FlowSpec):
    @conda(packages={"flowkit-surely-missing-pkg": "1.0"}, disabled=True)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class EnvironmentVarsFlow(FlowSpec):
    @environment(vars={"FLOWKIT_D2_GREETING": "hello"})
    @step
    def start(self):
        self.greeting = os.environ.get("FLOWKIT_D2_GREETING")
        self.next(self.end)

    @step
    def end(self):
        self.after = os.environ.get("FLOWKIT_D2_GREETING")
