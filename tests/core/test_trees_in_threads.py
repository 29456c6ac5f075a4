import gc
import sys
import threading
import time

from jupyter_blocks.core.body import parse_tree

SOURCE = "\n".join(
    f"def f{i}(x):\n    if x:\n        return [y for y in range(x) if (y + {i}) * 2 > 3]\n"
    "    return {'a': (1, 2, [3, 4])}"
    for i in range(40)
)


class _Finalised:
    def __del__(self):  # Python code during a collection: the interpreter may switch threads
        time.sleep(0)


def test_threads_parse_at_once_without_the_ast_recursion_depth_error():
    # Bare ast.parse fails here with "SystemError: AST constructor recursion depth mismatch":
    # threads switch often, and collections run Python finalisers in the middle of a parse.
    switch, thresholds = sys.getswitchinterval(), gc.get_threshold()
    errors: list[BaseException] = []

    def parse_many():
        for _ in range(200):
            garbage = _Finalised()
            garbage.cycle = garbage
            del garbage
            try:
                parse_tree(SOURCE)
            except SystemError as exc:
                errors.append(exc)
                return

    sys.setswitchinterval(1e-6)
    gc.set_threshold(50, 1, 1)
    try:
        threads = [threading.Thread(target=parse_many) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
        gc.set_threshold(*thresholds)
    assert errors == []
