"""Dataset sources, each behind the name -> builder table of ``snn_zoo.data.dataset_factory``.

A builder takes ``(BuildRequest, kwargs)`` and returns a ``torch.utils.data.Dataset``.
"""
