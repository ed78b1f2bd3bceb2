"""The post box between a study's Ray tasks and its driver (core.ray_records), an actor on the
driver's node. Its own module, importing nothing heavy: the actor's worker process starts fast."""


class Mailbox:
    """The study's post box, an actor on the driver's node: tasks post, the driver takes. The
    reply to a post is whether that attempt must stop (the study was stopped, or its run ended)."""

    def __init__(self):
        self._items: list = []
        self._stopping = False
        self._halted: set = set()

    def post(self, key: str, attempt: int, batch: list) -> bool:
        self._items.extend((key, attempt, message) for message in batch)
        return self._stopping or (key, attempt) in self._halted

    def take(self) -> list:
        items, self._items = self._items, []
        return items

    def stop(self) -> None:
        self._stopping = True

    def halt(self, key: str, attempt: int) -> None:
        self._halted.add((key, attempt))
