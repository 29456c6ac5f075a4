if 'callback' not in globals():
    from jupyter_blocks.decorators import callback


@callback("success")
def report_done(output, **kwargs):
    print(f"callback success: {kwargs['parent_block_uuid']} gave {output['rows']} rows")
