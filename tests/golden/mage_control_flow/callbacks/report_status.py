if 'callback' not in globals():
    from mage_ai.data_preparation.decorators import callback


@callback('success')
def on_success(parent_output, **kwargs):
    """Receives the parent block's output as its positional argument."""
    size = len(parent_output) if hasattr(parent_output, '__len__') else parent_output
    print(f"callback success: {kwargs['parent_block_uuid']} produced {size}")


@callback('failure')
def on_failure(parent_output, **kwargs):
    """The parent's error arrives as kwargs['__error']."""
    print(f"callback failure: {kwargs['parent_block_uuid']} raised {kwargs['__error']!r}")
