"""PSD smart-object mockup templates, rendered offline (psd-tools, numpy, OpenCV).

A product with `psd:` names a PSD/PSB file, the smart-object layer that receives the design and
optionally the layer that carries the garment colour. `_read` lists a document's smart objects and
what stops each rendering; `_geometry` turns a smart object's transform and warp into an inverse
map; `_template` renders variants over the layer stack split at the smart object; `_calibrate`
scores our geometry against Photoshop's own render; `_check` turns all this into the catalog's
problems (validate) and the rows `mockups inspect` prints. psd-tools is imported lazily: nothing
that does not open a PSD pays for it.
"""

from mockups.backends.psd._calibrate import MIN_IOU, MIN_PSNR, Score, calibrate, open_psd
from mockups.backends.psd._check import VERSION, Row, check_products, inspect_psd, render_job, stack_score
from mockups.backends.psd._read import PsdError, SmartObject, document_problem, smart_objects
from mockups.backends.psd._template import Template, fit_design

__all__ = ["MIN_IOU", "MIN_PSNR", "VERSION", "PsdError", "Row", "Score", "SmartObject", "Template", "calibrate",
           "check_products", "document_problem", "fit_design", "inspect_psd", "open_psd", "render_job",
           "smart_objects", "stack_score"]
