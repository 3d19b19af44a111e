"""Test helpers of the logs app, for its tests and those of the apps that publish logs."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


class Listener:
    """A channel in a group, read from sync code like a publisher's caller."""

    def __init__(self, group: str):
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(group, self.channel)

    def messages(self) -> list[dict]:
        """What came so far (waits 50 ms for each next message)."""

        async def drain():
            received = []
            while True:
                try:
                    received.append(await asyncio.wait_for(self.layer.receive(self.channel), 0.05))
                except TimeoutError:
                    return received

        return async_to_sync(drain)()
