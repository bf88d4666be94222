"""The FLECS Console API v2: its client (`client.FlecsConsole`) and its bodies and readers
(`payloads`), over the shared upstream base (`backends/upstream/`: http, base, fanout, payloads).

Never imports another API's folder.
"""
