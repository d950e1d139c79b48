"""Placeholder until this verb is built."""


def configure(parser):
    pass


def run(args):
    raise NotImplementedError("not built yet")
