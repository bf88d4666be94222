"""The Flow Retail Device API v2: its client (`client.FlowRetail`) and its bodies and readers
(`payloads`), over the shared upstream base (`backends/upstream/`: http, base, fanout, payloads).

Never imports another API's folder.
"""
