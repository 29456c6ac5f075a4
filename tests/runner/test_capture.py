"""OutputCapture: per-block buffers routed by thread, streams that still behave like streams."""

import io
import logging
import sys
import threading
from types import SimpleNamespace

from jupyter_blocks.runner.capture import OutputCapture, block_output


def event(kind: str, block: str | None = None, output: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(event=kind, block=block, output=output)


class FakeTerminal(io.StringIO):
    encoding = "latin-1"

    def isatty(self) -> bool:
        return True


def test_output_goes_to_the_block_whose_thread_wrote_it(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    capture = OutputCapture(echo=False)
    capture(event("block_started", "a"))
    capture(event("block_started", "b"))

    def write(block: str) -> None:
        with block_output(block):
            print(f"from {block}")
            logging.getLogger("etl").warning("logged by %s", block)

    threads = [threading.Thread(target=write, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("from no block")  # two blocks run: nobody's output, so it goes to the terminal
    capture(event("block_finished", "a"))
    capture(event("block_finished", "b"))
    capture(event("run_finished"))
    a, b = capture.take("a"), capture.take("b")
    assert "from a" in a and "logged by a" in a
    assert "from b" not in a and "logged by b" not in a
    assert "from b" in b and "logged by b" in b
    assert "from a" not in b and "logged by a" not in b
    assert terminal.getvalue() == "from no block\n"
    assert sys.stdout is terminal


def test_the_only_running_block_gets_output_of_threads_it_started(monkeypatch):
    monkeypatch.setattr(sys, "stdout", FakeTerminal())
    capture = OutputCapture(echo=False)
    capture(event("block_started", "solo"))
    worker = threading.Thread(target=lambda: print("worker line"))
    worker.start()
    worker.join()
    capture(event("block_finished", "solo"))
    assert capture.take("solo") == "worker line\n"


def test_the_routed_stream_answers_like_the_terminal(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    capture = OutputCapture(echo=True)
    capture(event("block_started", "a"))
    assert sys.stdout is not terminal
    assert sys.stdout.encoding == "latin-1" and sys.stdout.isatty()
    assert sys.stdout.getvalue() == ""  # anything else is the terminal's own
    print("shown and kept")
    capture(event("block_finished", "a"))
    capture(event("run_finished"))
    assert terminal.getvalue() == "shown and kept\n" and capture.take("a") == "shown and kept\n"


def test_output_of_a_block_run_elsewhere_is_kept_and_echoed(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    capture = OutputCapture(echo=True)
    capture(event("block_started", "remote"))
    capture(event("block_finished", "remote", output="printed in a worker\n"))
    capture(event("run_finished"))
    assert capture.take("remote") == "printed in a worker\n"
    assert terminal.getvalue() == "printed in a worker\n"


def test_runs_at_once_in_one_process_keep_their_blocks_output_apart(tmp_path, monkeypatch):
    from jupyter_blocks.core.grammar import parse_cell
    from jupyter_blocks.core.graph import Dag
    from jupyter_blocks.runner import Runner

    monkeypatch.setattr(sys, "stdout", FakeTerminal())
    barrier = threading.Barrier(2, timeout=10)
    dag = Dag.of([parse_cell("%%block same\nbarrier.wait()\nprint('run', tag)\nbarrier.wait()\n1",
                             origin="cell 1")])
    captures = {}

    def run(tag: str) -> None:
        capture = OutputCapture(echo=False)
        captures[tag] = capture
        kept = []
        Runner(subscribers=[capture, lambda e: kept.append(capture.take("same"))
                            if e.event == "block_finished" else None],
               namespace={"barrier": barrier, "tag": tag}).run(dag)
        captures[tag] = kept[0]

    threads = [threading.Thread(target=run, args=(tag,)) for tag in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert captures == {"A": "run A\n", "B": "run B\n"}
    assert isinstance(sys.stdout, FakeTerminal)


def test_blocks_at_once_echo_whole_lines_between_the_run_s_own_lines(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    capture = OutputCapture(echo=True)
    capture(event("block_started", "a"))
    capture(event("block_started", "b"))
    written = threading.Barrier(2)

    def write(block: str) -> None:
        with block_output(block):
            sys.stdout.write(f"wrote 4,329 rows from {block}")  # a print's text, then its \n
            written.wait()
            print("progress line of the run", file=terminal)  # as the progress view writes
            written.wait()
            sys.stdout.write("\n")
            sys.stdout.write(f"no line end from {block}")

    threads = [threading.Thread(target=write, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert terminal.getvalue().count("progress line of the run\n") == 2
    capture(event("block_finished", "a"))
    capture(event("block_finished", "b"))
    capture(event("run_finished"))
    lines = terminal.getvalue().splitlines()
    assert sorted(lines) == sorted(["progress line of the run"] * 2 + [
        "wrote 4,329 rows from a", "wrote 4,329 rows from b",
        "no line end from a", "no line end from b"])
    assert capture.take("a") == "wrote 4,329 rows from a\nno line end from a"


def test_a_progress_bar_redrawing_its_line_is_echoed_as_it_goes(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    capture = OutputCapture(echo=True)
    capture(event("block_started", "a"))
    with block_output("a"):
        sys.stderr.write("\r 10%")
        sys.stderr.write("\r 50%")
        assert terminal.getvalue() == "\r 10%\r"  # shown up to the latest redraw
        sys.stderr.write("\r100%\n")
    assert terminal.getvalue() == "\r 10%\r 50%\r100%\n"
    capture(event("block_finished", "a"))
