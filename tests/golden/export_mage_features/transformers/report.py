if 'transformer' not in globals():
    from jupyter_blocks.decorators import transformer


@transformer
def transform(big, *args, **kwargs):
    return {"rows": len(big), "amount": float(big.amount.sum())}
