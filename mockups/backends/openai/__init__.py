"""The `openai` backend: GPT image edits through the official SDK.

`_backend` (the Backend), `models` (the model table as data: rules, status, prices), `check`
(every request checked before anything is sent), `images` (the edit's canvas, mask and the way
back), `plates` (background plates generated once). The only package that imports `openai`.
May import: errors, catalog (schema options), imaging, backends.base, backends.local's public
`Compositor`; never another backend's private members.
"""

from mockups.backends.openai._backend import OpenAIBackend, edit_by_reference, image_ref, retry_after, strategy_costs

__all__ = ["OpenAIBackend", "edit_by_reference", "image_ref", "retry_after", "strategy_costs"]
