if 'sensor' not in globals():
    from jupyter_blocks.decorators import sensor


@sensor
def ready(*args, **kwargs):
    return bool(kwargs["repo_path"])
