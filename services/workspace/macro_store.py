"""`workspace_macros`: a macro per document, `_id` the macro's id, written whole (an insert
or a replace filtered on `_id`), read by `_id` or, for the desk's list, all of them in title
order (a small collection a supervisor keeps, not a hot path; at most MOST_MACROS)."""

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from kefu.services.workspace.macros import Macro
from kefu.shared.store import Document

MACROS, MOST_MACROS = "workspace_macros", 1000


class MacroStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.macros = db[MACROS]

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {MACROS: [IndexModel([("title", ASCENDING)])]}

    async def add(self, macro: Macro) -> bool:
        """False: a macro with this id exists."""
        try:
            await self.macros.insert_one(_document(macro))
        except DuplicateKeyError:
            return False
        return True

    async def replace(self, macro: Macro) -> bool:
        """False: no macro with this id."""
        replaced = await self.macros.replace_one({"_id": macro.id}, _document(macro))
        return replaced.matched_count == 1

    async def remove(self, macro_id: str) -> bool:
        return (await self.macros.delete_one({"_id": macro_id})).deleted_count == 1

    async def macro(self, macro_id: str) -> Macro | None:
        found = await self.macros.find_one({"_id": macro_id})
        return _macro(found) if found else None

    async def every(self) -> list[Macro]:
        found = self.macros.find({}).sort("title", ASCENDING).limit(MOST_MACROS)
        return [_macro(one) async for one in found]


def _document(macro: Macro) -> Document:
    return {"_id": macro.id, **macro.model_dump(exclude={"id"})}


def _macro(found: Document) -> Macro:
    fields = {k: v for k, v in found.items() if k != "_id"}
    return Macro.model_validate({"id": found["_id"], **fields}, context={"stored": True})
