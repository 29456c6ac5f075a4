if 'data_exporter' not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def export_data(report, *args, **kwargs):
    print(f'publishing {report}')
    return report
