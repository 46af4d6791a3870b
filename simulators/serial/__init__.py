"""Serial device simulators on real pseudo-terminals (alcotester, badge reader, PMS5003)
and the fault plan shared with the Modbus simulators."""
