import functools
import inspect

from jupyter_blocks.runner.execute import _call


def test_a_block_function_gets_the_upstreams_and_the_variables_it_takes():
    def block(data, *args, **kwargs):
        return data, kwargs

    assert _call(block, [1], {"env": "dev"}) == (1, {"env": "dev"})

    def narrow(data, env=None):
        return data, env

    assert _call(narrow, [1], {"env": "dev", "other": 2}) == (1, "dev")

    def one(data):
        return data

    assert _call(one, [1, 2], {}, lenient=True) == 1  # a sensor takes what it has room for


def test_functions_sharing_a_code_object_are_read_by_what_each_one_takes():
    def make():
        def block(data, env=None):
            return data, env
        return block

    first, again = make(), make()
    assert first.__code__ is again.__code__
    assert _call(first, [1], {"env": "a", "x": 0}) == (1, "a")
    assert _call(again, [2], {"env": "b", "x": 0}) == (2, "b")

    def takes_anything(*args, **kwargs):
        return args, kwargs

    @functools.wraps(takes_anything)
    def wrapped(*args, **kwargs):  # its signature is the wrapped function's
        return args, kwargs

    assert _call(wrapped, [1], {"x": 0}) == ((1,), {"x": 0})

    def declared(*args, **kwargs):
        return args, kwargs

    declared.__signature__ = inspect.signature(lambda data: None)
    assert _call(declared, [1], {"x": 0}) == ((1,), {})
