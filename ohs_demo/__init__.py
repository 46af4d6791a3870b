"""The one-machine demo (``ohs-demo``) and the MQTT brokers it and the tests start.

Demo and test machinery, kept out of the production ``hub`` package: it starts the hub,
kiosks and simulators together, so it imports all of them. Install it with the ``demo``
extra (``pip install 'ohs-gate[demo]'``); :func:`ohs_demo.extras.missing` names what is
absent so the command can say so instead of failing half-way.
"""
