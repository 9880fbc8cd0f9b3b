"""The console's chat box: ``shopops chat``'s session, with the caller's rights.

:class:`WebChatSession` *is* :class:`agent.chat.ChatSession` (the same commands, phrases,
replies and chat model), bound to one run the caller may see, recording decisions under the
caller's name. The only difference: answering (accept / edit / reject) first checks that the
caller may answer in that run's shop, so a viewer typing ``accept 12`` is refused like the
API would refuse them. :func:`reply_text` turns a reply (text with rich markup, or a rich
panel for ``show``) into plain text for the browser.
"""

from __future__ import annotations

import io
from typing import Any

from agent.chat import ChatSession
from agent.web.auth import Principal

__all__ = ["WebChatSession", "reply_text"]


class WebChatSession(ChatSession):
    """A :class:`ChatSession` over one run for ``principal`` (who must see its shop).

    Args:
        store: the open store.
        principal: the caller.
        run_id: the run the conversation is about.
        shop_id: that run's shop.
        model: an optional LangChain chat model (as ``shopops chat --model``).
        tools: read-only tools for the model.
        answerer, reader: the server's local language model (``shopops serve --chat-llm``),
            for grounded answers and instructions.
        about: the decision open in the console (free-form questions are about it).
        memory: the server's store of instructions waiting for `file it`.
    """

    def __init__(
        self,
        store: Any,
        principal: Principal,
        run_id: str,
        shop_id: str,
        model: Any = None,
        tools: list[Any] | None = None,
        answerer: Any = None,
        reader: Any = None,
        about: int | None = None,
        memory: dict | None = None,
    ) -> None:
        principal.require_see(shop_id)
        super().__init__(
            store, principal.name, run_id, model, tools, answerer, reader, about, memory=memory
        )
        self.principal, self.shop_id = principal, shop_id

    def _answer(self, decisions: dict[int, dict]) -> str:
        self.principal.require_answer(self.shop_id)  # a ShopOpsError: handle() shows it
        return super()._answer(decisions)

    def _do_file(self, *args: Any) -> str:
        self.principal.require_answer(self.shop_id)  # filing a rule is an approver's act
        return super()._do_file(*args)


def reply_text(reply: Any, width: int = 96) -> str:
    """Plain text of a chat reply (markup removed, panels drawn with box characters)."""
    from rich.console import Console

    if reply is None:
        return ""
    buf = io.StringIO()
    console = Console(
        file=buf, width=width, record=True, color_system=None, highlight=False, markup=False
    )
    console.print(reply, soft_wrap=isinstance(reply, str))  # the browser wraps plain text
    return console.export_text().rstrip()
