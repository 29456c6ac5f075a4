"""Stand-ins for the parts of a live kernel the comm and the cell display use."""


class RecordingComm:
    """The three methods of an ipykernel comm the channel uses, recording what is sent."""

    def __init__(self):
        self.sent = []
        self.handlers = {}

    def send(self, data):
        self.sent.append(data)

    def on_msg(self, handler):
        self.handlers["msg"] = handler

    def on_close(self, handler):
        self.handlers["close"] = handler


def message(data):
    """A comm message carrying ``data``, as the frontend sends it."""
    return {"content": {"data": data}}
