"""Parsers of the Ascend host tools (kubectl_ascend.preflight.parsers) and the driver<->CANN table.

Samples follow the documented formats named in the parsers' docstring (npu-smi info table with
its process table; hccn_tool -link/-net_health/-ip/-tls/-ping -g; hccn.conf; version.info), with
our own values. Malformed output raises ParseError rather than passing silently.
"""
from __future__ import annotations

import pytest

from kubectl_ascend.preflight import compat, parsers

pytestmark = pytest.mark.unit

NPU_SMI = """\
+------------------------------------------------------------------------------------------------+
| npu-smi 24.1.rc2                 Version: 24.1.rc2                                             |
+---------------------------+---------------+----------------------------------------------------+
| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |
+===========================+===============+====================================================+
| 0     910B3               | OK            | 99.1        37                0    / 0             |
| 0                         | 0000:C1:00.0  | 0           0    / 0          59784/ 65536         |
+===========================+===============+====================================================+
| 1     910B3               | Warning       | 92.0        39                0    / 0             |
| 0                         | 0000:C2:00.0  | 0           0    / 0          3314 / 65536         |
+===========================+===============+====================================================+
| 2     910B3               | Alarm         | 92.0        39                0    / 0             |
| 0                         | 0000:81:00.0  | 0           0    / 0          3314 / 65536         |
+===========================+===============+====================================================+
+---------------------------+---------------+----------------------------------------------------+
| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |
+===========================+===============+====================================================+
| 0       0                 | 6277          | python                   | 56485                   |
+===========================+===============+====================================================+
| No running processes found in NPU 1                                                            |
+===========================+===============+====================================================+
| No running processes found in NPU 2                                                            |
+===========================+===============+====================================================+
"""


def test_npu_smi_info_chips_health_and_processes():
    info = parsers.npu_smi_info(NPU_SMI)
    assert info.version == "24.1.rc2"
    assert [(c.npu, c.chip, c.name, c.health, c.bus_id) for c in info.chips] == [
        (0, 0, "910B3", "OK", "0000:C1:00.0"), (1, 0, "910B3", "Warning", "0000:C2:00.0"),
        (2, 0, "910B3", "Alarm", "0000:81:00.0")]
    assert info.processes == [(0, 0, "6277", "python")]


DUO = """\
+--------------------------------------------------------------------------------------------------------+
| npu-smi 23.0.rc3                                 Version: 23.0.rc3                                     |
+-------------------------------+-----------------+------------------------------------------------------+
| NPU     Name                  | Health          | Power(W)     Temp(C)           Hugepages-Usage(page) |
| Chip    Device                | Bus-Id          | AICore(%)    Memory-Usage(MB)                        |
+===============================+=================+======================================================+
| 1       310P3                 | OK              | NA           53                0     / 0             |
| 0       0                     | 0000:01:00.0    | 0            1782 / 44280                            |
+-------------------------------+-----------------+------------------------------------------------------+
| 1       310P3                 | OK              | NA           52                0     / 0             |
| 1       1                     | 0000:01:00.0    | 0            1506 / 43693                            |
+===============================+=================+======================================================+
| 32      310P3                 | Warning         | NA           51                0     / 0             |
| 0       2                     | 0000:02:00.0    | 0            1782 / 44280                            |
+-------------------------------+-----------------+------------------------------------------------------+
| 32      310P3                 | Warning         | NA           51                0     / 0             |
| 1       3                     | NA              | 0            1506 / 43693                            |
+===============================+=================+======================================================+
+-------------------------------+-----------------+------------------------------------------------------+
| NPU     Chip                  | Process id      | Process name             | Process memory(MB)        |
+===============================+=================+======================================================+
| 32      1                     | 5120            | mindieservice_d          | 35270                     |
+===============================+=================+======================================================+
"""


def test_npu_smi_info_310p_chip_device_rows_two_chips_per_card():
    info = parsers.npu_smi_info(DUO)
    assert info.version == "23.0.rc3"
    assert [(c.npu, c.chip, c.name, c.health, c.bus_id) for c in info.chips] == [
        (1, 0, "310P3", "OK", "0000:01:00.0"), (1, 1, "310P3", "OK", "0000:01:00.0"),
        (32, 0, "310P3", "Warning", "0000:02:00.0"), (32, 1, "310P3", "Warning", "NA")]
    assert info.processes == [(32, 1, "5120", "mindieservice_d")]


def test_npu_smi_info_refuses_other_output():
    with pytest.raises(parsers.ParseError):
        parsers.npu_smi_info("dcmi model initialized failed, because the device is used. ret is -8020\n")


def test_hccn_link_net_health_ip_tls():
    assert parsers.link_status("link status: UP\n") == "UP"
    assert parsers.link_status("link status: DOWN\n") == "DOWN"
    with pytest.raises(parsers.ParseError):
        parsers.link_status("Get link status failed\n")
    assert parsers.net_health("net health status: Success\n") == "Success"
    assert parsers.net_health("net health status: Socket failed\n") == "Socket failed"
    assert parsers.device_ip("ipaddr:10.10.0.13\nnetmask:255.255.255.0\n") == "10.10.0.13"
    with pytest.raises(parsers.ParseError):
        parsers.device_ip("netmask:255.255.255.0\n")
    tls = ("dev_id:0, tls switch[1](0:disable, 1:enable), tls preconfigured[1](0:non-preset, 1:preset), "
           "tls alarm time threshold[60]days\ndev_id:0, [pub cert] info:\n         issuer[/C=CN/CN=x]\n")
    assert parsers.tls_switch(tls) == "1"
    assert parsers.tls_switch(tls.replace("switch[1]", "switch[0]")) == "0"
    with pytest.raises(parsers.ParseError):
        parsers.tls_switch("dev_id:0, [pub cert] info:\n")


def test_hccn_ping():
    ok = ("device 0 PING 10.20.0.11\nrecv seq=0,time=0.061000ms\nrecv seq=1,time=0.062000ms\n"
          "recv seq=2,time=0.063000ms\n3 packets transmitted, 3 received, 0.00% packet loss\n")
    lost = ("device 0 PING 10.20.0.99\nrecv time out seq=0\nrecv time out seq=1\nrecv time out seq=2\n"
            "3 packets transmitted, 0 received, 100.00% packet loss\n")
    assert parsers.ping(ok) == (3, 3)
    assert parsers.ping(lost) == (3, 0)
    with pytest.raises(parsers.ParseError):
        parsers.ping("ping failed\n")


def test_hccn_conf_and_version_info():
    conf = parsers.hccn_conf("# comment\naddress_0=10.10.0.10\nnetmask_0=255.255.255.0\nnetdetect_0=10.10.0.1\n"
                             "address_1=10.10.0.11\ntls_enable_1=0\n\n")
    assert conf == {0: {"address": "10.10.0.10", "netmask": "255.255.255.0", "netdetect": "10.10.0.1"},
                    1: {"address": "10.10.0.11", "tls_enable": "0"}}
    info = ("Version=23.0.7\nascendhal_version=7.35.19\naicpu_version=1.0\n"
            "compatible_version=[V100R001C29],[V100R001C30]\npackage_version=23.0.7\n")
    assert parsers.driver_version(info) == "23.0.7"
    with pytest.raises(parsers.ParseError):
        parsers.driver_version("aicpu_version=1.0\n")


@pytest.mark.parametrize("older,newer", [("25.0.RC1", "25.0.0"), ("25.0.0", "25.2.0"), ("24.1.rc2", "24.1.rc3"),
                                         ("25.2.0", "25.2.0.1"), ("25.5.0", "26.0.RC1"), ("23.0.7", "24.1.0")])
def test_version_order(older, newer):
    assert compat.version_key(older) < compat.version_key(newer)


def test_driver_supports_cann_per_ascend_deployer_table():
    assert compat.driver_supports("25.2.0", "8.2.RC1") is True
    assert compat.driver_supports("25.5.0", "8.2.rc1") is True
    assert compat.driver_supports("25.0.RC1", "8.2.RC1") is False
    assert compat.driver_supports("25.2.0", "9.0.0") is False
    assert compat.driver_supports("25.2.0", "7.0.0") is None
    with pytest.raises(ValueError):
        compat.version_key("abc")


def test_cann_from_image_tag():
    assert compat.cann_from_image("quay.io/ascend/cann:8.2.rc1-910b-ubuntu22.04-py3.11") == "8.2.RC1"
    assert compat.cann_from_image("registry:5000/ascend/cann:8.5.0-a3-openeuler24.03") == "8.5.0"
    assert compat.cann_from_image("swr.cn-south-1.myhuaweicloud.com/ascendhub/mindie:2.1.RC1-800I-A2-py311") is None
    assert compat.cann_from_image("quay.io/ascend/vllm-ascend:v0.9.1") is None
    assert compat.cann_from_image("registry:5000/cann") is None
