"""``export``, ``import`` and ``dag``: a notebook to a Mage-layout project and back, and pictures.

What belongs here: the options of these commands and what they print; the work is
``project``'s and ``pictures``'s.
"""

from __future__ import annotations

import click

from jupyter_blocks.cli.common import errors_as_exit_codes


@click.command()
@click.argument("target", type=click.Path())
@click.option("--pipeline", help="Pipeline name, when TARGET is a project folder.")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]), default="mermaid",
              show_default=True)
@click.option("-o", "--output", type=click.Path(), help="Write to this file instead of stdout.")
@errors_as_exit_codes
def dag(target: str, pipeline: str | None, fmt: str, output: str | None) -> None:
    """Print or write the DAG of a notebook or a project pipeline (Mermaid, dot or SVG)."""
    from jupyter_blocks.cli import pictures
    from jupyter_blocks.core.body import analyze, resolve_type
    from jupyter_blocks.core.errors import BlocksError, GraphError
    from jupyter_blocks.project.loading import is_notebook_target, load_pipeline

    # A notebook is drawn as written, problems included (but not a cycle, which has no order,
    # nor no block at all); a project pipeline must load.
    graph = load_pipeline(target, pipeline,
                          check=not is_notebook_target(target)).require_blocks().dag
    cycles = [problem for problem in graph.problems() if problem.kind == "cycle"]
    if cycles:
        raise GraphError(cycles)
    types: dict[str, str | None] = {}
    for spec in graph:
        try:
            types[spec.name] = resolve_type(spec, analyze(spec))
        except BlocksError:
            types[spec.name] = spec.type
    if fmt == "mermaid":
        text = graph.to_mermaid(types=types)
    elif fmt == "dot":
        text = pictures.to_dot(graph, types)
    else:
        text = pictures.to_svg(graph, types)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        click.echo(text)


@click.command("export")
@click.argument("notebook", type=click.Path())
@click.option("--project", type=click.Path(), help="Project folder (default: the notebook's).")
@click.option("--pipeline", help="Pipeline name (default: the notebook's name).")
@click.option("--detach", is_flag=True,
              help="Write this pipeline's own copy of block files other pipelines share.")
@click.option("--force", is_flag=True, help="Overwrite block files other pipelines share.")
@errors_as_exit_codes
def export(notebook: str, project: str | None, pipeline: str | None, detach: bool,
           force: bool) -> None:
    """Export a notebook to a Mage-layout project: metadata.yaml and block files."""
    from jupyter_blocks.project.writer import export_notebook

    if detach and force:
        raise click.UsageError("--detach and --force cannot be combined")
    result = export_notebook(notebook, project, pipeline, detach=detach, force=force)
    for path in result.written:
        click.echo(f"wrote {path}")
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo(f"exported pipeline `{result.pipeline}` to {result.project} "
               f"({len(result.written)} written, {len(result.unchanged)} unchanged)")


@click.command("import")
@click.argument("project", type=click.Path())
@click.option("--pipeline", help="Pipeline name (optional when the project has one).")
@click.option("-o", "--output", required=True, type=click.Path(), help="Notebook to write.")
@errors_as_exit_codes
def import_(project: str, pipeline: str | None, output: str) -> None:
    """Build a notebook of %%block cells from a project pipeline (ours or Mage's)."""
    from jupyter_blocks.project.importer import import_project

    result = import_project(project, pipeline, output)
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo(f"wrote {result.notebook}")
