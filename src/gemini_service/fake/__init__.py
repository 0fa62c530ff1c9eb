"""A fake Gemini API: Google's REST wire format, deterministic echo answers, injectable faults.

Run it with ``python -m gemini_service.fake``; build it in-process with
:func:`gemini_service.fake.server.create_app`.
"""
