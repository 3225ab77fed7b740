# This file is part of ts_calibrations.
#
# Developed for the Vera C. Rubin Observatory Telescope and Site Systems.
# This product includes software developed by the LSST Project
# (https://www.lsst.org).
# See the COPYRIGHT file at the top-level directory of this distribution
# for details of code ownership.
#
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License
# along with this program.  If not, see <https://www.gnu.org/licenses/>.

import pathlib
import typing

import numpy as np
import pytest
import yaml

from lsst.ts.calibrations.sal.component_info import INTERFACES_DIR, ComponentInfo
from lsst.ts.calibrations.sal.field_info import FieldInfo
from lsst.ts.calibrations.sal.topic_info import TopicInfo

# Every component the standard and external scripts use: the queue, scripts,
# the test component, and the camera, header service and OODS of LSSTComCam
# (CC), LSSTCam (MT) and LATISS (AT), the OCPS, and the telescopes and domes.
# The ts_xml release the interface files were generated from.
TS_XML_VERSION = "v28.0.1 (9e72b8ad5a38ed78110001e3aaacd58b103574ad)"
COMPONENTS = [
    "ATCamera",
    "ATDome",
    "ATHeaderService",
    "ATMCS",
    "ATOODS",
    "ATPtg",
    "ATSpectrograph",
    "CCCamera",
    "CCHeaderService",
    "CCOODS",
    "MTCamera",
    "MTDome",
    "MTDomeTrajectory",
    "MTHeaderService",
    "MTMount",
    "MTOODS",
    "MTPtg",
    "OCPS",
    "Script",
    "ScriptQueue",
    "Test",
    "Watcher",
]
PRIVATE = [
    "salIndex",
    "private_sndStamp",
    "private_rcvStamp",
    "private_seqNum",
    "private_identity",
    "private_origin",
]

# Topics and fields the rest of the package relies on: (component, attr_name, {field: (type, count)}).
EXPECTED: list[tuple[str, str, dict[str, tuple[str, int]]]] = [
    (
        "CCCamera",
        "cmd_takeImages",
        {
            "numImages": ("long", 1),
            "expTime": ("double", 1),
            "shutter": ("boolean", 1),
            "sensors": ("string", 1),
            "keyValueMap": ("string", 1),
            "obsNote": ("string", 1),
        },
    ),
    ("CCCamera", "cmd_setFilter", {"name": ("string", 1)}),
    ("CCCamera", "cmd_enableCalibration", {}),
    ("CCCamera", "cmd_discardRows", {"nRows": ("long", 1)}),
    (
        "CCCamera",
        "evt_startIntegration",
        {
            "additionalKeys": ("string", 1),
            "additionalValues": ("string", 1),
            "imagesInSequence": ("long", 1),
            "imageName": ("string", 1),
            "imageIndex": ("long", 1),
            "imageSource": ("string", 1),
            "imageController": ("string", 1),
            "imageDate": ("string", 1),
            "imageNumber": ("long", 1),
            "timestampAcquisitionStart": ("double", 1),
            "exposureTime": ("double", 1),
            "mode": ("string", 1),
            "timeout": ("double", 1),
        },
    ),
    (
        "CCCamera",
        "evt_startReadout",
        {"exposureTime": ("double", 1), "timestampStartOfReadout": ("double", 1)},
    ),
    (
        "CCCamera",
        "evt_endReadout",
        {
            "imageName": ("string", 1),
            "requestedExposureTime": ("double", 1),
            "timestampEndOfReadout": ("double", 1),
        },
    ),
    (
        "CCCamera",
        "evt_endOfImageTelemetry",
        {
            "imageTag": ("string", 1),
            "timestampDateObs": ("double", 1),
            "timestampDateEnd": ("double", 1),
            "measuredShutterOpenTime": ("double", 1),
            "darkTime": ("double", 1),
            "emulatedImage": ("string", 1),
        },
    ),
    ("CCCamera", "evt_startSetFilter", {"filterName": ("string", 1), "filterType": ("string", 1)}),
    (
        "CCCamera",
        "evt_endSetFilter",
        {
            "filterName": ("string", 1),
            "filterType": ("string", 1),
            "filterSlot": ("int", 1),
            "filterPosition": ("double", 1),
        },
    ),
    (
        "CCCamera",
        "evt_availableFilters",
        {"filterNames": ("string", 1), "filterTypes": ("string", 1), "maxSlowChangeTime": ("double", 6)},
    ),
    ("CCCamera", "evt_ccsCommandState", {"substate": ("long", 1), "timestampTransition": ("double", 1)}),
    ("CCCamera", "evt_shutterDetailedState", {"substate": ("long", 1)}),
    ("CCCamera", "evt_summaryState", {"summaryState": ("long", 1)}),
    (
        "CCHeaderService",
        "evt_largeFileObjectAvailable",
        {
            "url": ("string", 1),
            "generator": ("string", 1),
            "version": ("float", 1),
            "byteSize": ("long", 1),
            "checkSum": ("string", 1),
            "mimeType": ("string", 1),
            "id": ("string", 1),
        },
    ),
    (
        "CCOODS",
        "evt_imageInOODS",
        {
            "camera": ("string", 1),
            "obsid": ("string", 1),
            "raft": ("string", 1),
            "sensor": ("string", 1),
            "statusCode": ("long", 1),
            "description": ("string", 1),
        },
    ),
    (
        "OCPS",
        "cmd_execute",
        {
            "pipeline": ("string", 1),
            "version": ("string", 1),
            "config": ("string", 1),
            "data_query": ("string", 1),
            "prereq_jobs": ("string", 1),
            "output_dataset_types": ("string", 1),
        },
    ),
    ("OCPS", "cmd_abort_job", {"job_id": ("string", 1)}),
    ("OCPS", "evt_job_result", {"job_id": ("string", 1), "exit_code": ("int", 1), "result": ("string", 1)}),
    (
        "Script",
        "cmd_configure",
        {
            "config": ("string", 1),
            "logLevel": ("int", 1),
            "pauseCheckpoint": ("string", 1),
            "stopCheckpoint": ("string", 1),
            "blockId": ("string", 1),
            "executionId": ("string", 1),
        },
    ),
    ("Script", "cmd_setCheckpoints", {"pause": ("string", 1), "stop": ("string", 1)}),
    ("Script", "cmd_setGroupId", {"groupId": ("string", 1)}),
    ("Script", "cmd_setLogLevel", {"level": ("int", 1), "subsystem": ("string", 1)}),
    (
        "Script",
        "evt_description",
        {
            "classname": ("string", 1),
            "description": ("string", 1),
            "help": ("string", 1),
            "remotes": ("string", 1),
        },
    ),
    (
        "Script",
        "evt_metadata",
        {
            "coordinateSystem": ("short", 1),
            "position": ("double", 2),
            "rotationSystem": ("short", 1),
            "cameraAngle": ("double", 1),
            "filters": ("string", 1),
            "dome": ("short", 1),
            "duration": ("double", 1),
            "nimages": ("int", 1),
            "instrument": ("string", 1),
            "survey": ("string", 1),
            "totalCheckpoints": ("int", 1),
        },
    ),
    (
        "Script",
        "evt_state",
        {
            "state": ("byte", 1),
            "reason": ("string", 1),
            "groupId": ("string", 1),
            "lastCheckpoint": ("string", 1),
            "numCheckpoints": ("int", 1),
            "blockId": ("string", 1),
            "dayObs": ("int", 1),
            "blockExecution": ("int", 1),
            "executionId": ("string", 1),
        },
    ),
    ("Script", "evt_checkpoints", {"pause": ("string", 1), "stop": ("string", 1)}),
    (
        "Script",
        "evt_logMessage",
        {
            "name": ("string", 1),
            "level": ("int", 1),
            "message": ("string", 1),
            "traceback": ("string", 1),
            "filePath": ("string", 1),
            "functionName": ("string", 1),
            "lineNumber": ("long", 1),
            "process": ("long", 1),
            "timestamp": ("double", 1),
        },
    ),
    ("Script", "evt_heartbeat", {"heartbeat": ("boolean", 1)}),
    ("ScriptQueue", "cmd_showSchema", {"isStandard": ("boolean", 1), "path": ("string", 1)}),
    ("ScriptQueue", "evt_configSchema", {"configSchema": ("string", 1)}),
    ("ScriptQueue", "evt_queue", {"salIndices": ("int", 400), "currentSalIndex": ("int", 1)}),
    ("Test", "cmd_wait", {"ack": ("int", 1), "duration": ("double", 1)}),
    ("Test", "tel_arrays", {"longLong0": ("long long", 5), "double0": ("double", 5)}),
    (
        "Test",
        "ack_ackcmd",
        {
            "ack": ("long", 1),
            "error": ("long", 1),
            "result": ("string", 1),
            "identity": ("string", 1),
            "origin": ("long", 1),
            "cmdtype": ("long", 1),
            "timeout": ("double", 1),
        },
    ),
]


@pytest.mark.parametrize("name", COMPONENTS)
def test_every_component_loads(name: str) -> None:
    info = ComponentInfo.from_name(name)
    assert info.name == name
    assert ComponentInfo.from_name(name) is info  # cached
    assert info.ts_xml_version
    assert "ack_ackcmd" in info.topics
    for topic in info.topics.values():
        data = topic.DataType()
        for field_name in PRIVATE:
            assert hasattr(data, field_name)
        assert topic.make_data() == data
    assert info.command_names == sorted(info.command_names)
    assert set(ComponentInfo.available_names()) == set(COMPONENTS)


def test_indexed_and_generics() -> None:
    indexed = {"OCPS", "Script", "ScriptQueue", "Test"}
    assert {name: ComponentInfo.from_name(name).indexed for name in COMPONENTS} == {
        name: name in indexed for name in COMPONENTS
    }
    # ts_xml's IndexEnumeration: named indices, or none for "any".
    assert ComponentInfo.from_name("ScriptQueue").index_enumeration == {"MainTel": 1, "AuxTel": 2, "OCS": 3}
    assert ComponentInfo.from_name("OCPS").index_enumeration == {
        "LATISS": 1,
        "LSSTComCam": 2,
        "LSSTCam": 3,
        "RA": 4,
    }
    assert ComponentInfo.from_name("Script").index_enumeration == {}
    csc_commands = {"disable", "enable", "exitControl", "setLogLevel", "standby", "start"}
    for name in set(COMPONENTS) - {"Script"}:
        info = ComponentInfo.from_name(name)
        assert csc_commands <= set(info.command_names), name
        assert {"summaryState", "heartbeat", "logMessage", "errorCode"} <= set(info.event_names), name
    script = ComponentInfo.from_name("Script")
    assert script.command_names == [
        "configure",
        "resume",
        "run",
        "setCheckpoints",
        "setGroupId",
        "setLogLevel",
        "stop",
    ]
    assert "summaryState" not in script.event_names
    assert "enterControl" in ComponentInfo.from_name("CCCamera").command_names
    assert "enterControl" not in ComponentInfo.from_name("CCOODS").command_names
    # ts_xml dropped the authorization list topics from the generics.
    assert "setAuthList" not in ComponentInfo.from_name("Test").command_names
    assert "authList" not in ComponentInfo.from_name("Test").event_names
    assert "clockOffset" in ComponentInfo.from_name("MTMount").event_names
    assert {"configurationApplied", "configurationsAvailable"} <= set(
        ComponentInfo.from_name("Watcher").event_names
    )
    assert "largeFileObjectAvailable" in ComponentInfo.from_name("MTHeaderService").event_names


def test_release_and_converter_recorded() -> None:
    """Every file comes from one ts_xml release, through our converter."""
    versions = {ComponentInfo.from_name(name).ts_xml_version for name in COMPONENTS}
    assert versions == {TS_XML_VERSION}
    generics = yaml.safe_load((INTERFACES_DIR / "_generics.yaml").read_text())
    assert generics["ts_xml_version"] == TS_XML_VERSION
    for name in COMPONENTS:
        assert (
            ComponentInfo.from_name(name).generated_by == "lsst.ts.calibrations.sal.xml_interface_converter"
        )
        header = (INTERFACES_DIR / f"{name}.yaml").read_text().splitlines()[:3]
        assert header[1] == f"# Generated from ts_xml {TS_XML_VERSION}", name
        assert "python -m lsst.ts.calibrations.sal.xml_interface_converter" in header[2], name


def test_enums_and_units_as_in_ts_xml() -> None:
    script = ComponentInfo.from_name("Script")
    assert script.enums["ScriptState"]["Unconfigured"] == 1
    assert script.enums["ScriptState"]["ConfigureFailed"] == 11
    assert script.enums["MetadataDome"] == {"Closed": 1, "Open": 2, "Either": 3}
    coordinate_system = script["evt_metadata"].fields["coordinateSystem"]
    assert coordinate_system.enumeration == {
        "CSys_None": 1,
        "CSys_ICRS": 2,
        "CSys_Observed": 3,
        "CSys_Mount": 4,
    }
    assert script["evt_metadata"].fields["position"].units == "degree"
    # Explicit values, hexadecimal included, and numbering after them.
    mtmount = ComponentInfo.from_name("MTMount")
    assert mtmount.enums["PowerState"]["Unknown"] == 15
    assert mtmount.enums["LimitsMask"]["L2Max"] == 8
    assert ComponentInfo.from_name("ScriptQueue").enums["Location"] == {
        "First": 1,
        "Last": 2,
        "Before": 3,
        "After": 4,
    }
    assert (
        ComponentInfo.from_name("CCCamera")["evt_endReadout"].fields["requestedExposureTime"].units
        == "second"
    )
    # A camera telemetry topic defined by an Avro schema in ts_xml.
    vacuum = ComponentInfo.from_name("CCCamera")["tel_vacuum_turbo"]
    assert (vacuum.fields["current"].sal_type, vacuum.fields["current"].units) == ("double", "mA")
    assert vacuum.fields["timestamp"].sal_type == "long"


@pytest.mark.parametrize(("component", "attr_name", "fields"), EXPECTED)
def test_named_topics_and_fields(component: str, attr_name: str, fields: dict[str, tuple[str, int]]) -> None:
    topic = ComponentInfo.from_name(component)[attr_name]
    assert topic.attr_name == attr_name
    for field_name, (sal_type, count) in fields.items():
        field_info = topic.fields[field_name]
        assert (field_info.sal_type, field_info.count) == (sal_type, count), f"{topic.full_name}.{field_name}"
    if not fields:
        assert topic.fields == {}


def test_topic_names() -> None:
    info = ComponentInfo.from_name("CCCamera")
    cmd = info.topics["cmd_takeImages"]
    assert (cmd.name, cmd.kind, cmd.sal_name) == ("takeImages", "command", "command_takeImages")
    evt = info.topics["evt_endReadout"]
    assert (evt.name, evt.kind, evt.sal_name) == ("endReadout", "event", "logevent_endReadout")
    tel = ComponentInfo.from_name("Test").topics["tel_scalars"]
    assert (tel.name, tel.kind, tel.sal_name) == ("scalars", "telemetry", "scalars")
    ack = info.ackcmd
    assert (ack.name, ack.kind, ack.sal_name, ack.attr_name) == ("ackcmd", "ackcmd", "ackcmd", "ack_ackcmd")
    assert cmd.component_name == "CCCamera"
    assert cmd.description
    with pytest.raises(KeyError, match="CCCamera has no topic 'cmd_takeImage'"):
        info["cmd_takeImage"]
    with pytest.raises(ValueError, match="Unknown SAL component 'NoSuch'.*CCCamera"):
        ComponentInfo.from_name("NoSuch")


def test_data_type_defaults_and_slots() -> None:
    topic = ComponentInfo.from_name("Test").topics["cmd_setArrays"]
    data = topic.DataType()
    assert data.int0 == [0] * 5
    assert data.float0 == [0.0] * 5
    assert data.boolean0 == [False] * 5
    other = topic.DataType()
    data.int0[0] = 3
    assert other.int0 == [0] * 5  # each message has its own lists
    scalars = ComponentInfo.from_name("Test").topics["evt_scalars"].DataType()
    assert (scalars.string0, scalars.boolean0, scalars.double0, scalars.salIndex) == ("", False, 0.0, 0)
    with pytest.raises(AttributeError):
        data.no_such_field = 1
    with pytest.raises(TypeError):
        topic.DataType(0)  # keyword only
    assert not hasattr(data, "__dict__")


def test_make_data_checks_names_types_and_lengths() -> None:
    test = ComponentInfo.from_name("Test")
    arrays = test.topics["cmd_setArrays"]
    scalars = test.topics["cmd_setScalars"]

    data = arrays.make_data(int0=np.arange(5), float0=(1, 2, 3, 4, 5), salIndex=3)
    assert data.int0 == [0, 1, 2, 3, 4] and all(type(v) is int for v in data.int0)
    assert data.float0 == [1.0, 2.0, 3.0, 4.0, 5.0] and all(type(v) is float for v in data.float0)
    assert data.salIndex == 3

    with pytest.raises(
        TypeError, match=r"Test\.command_setArrays has no field 'int1'; its fields are: boolean0"
    ):
        arrays.make_data(int1=[0] * 5)
    with pytest.raises(
        ValueError, match=r"Test\.command_setArrays\.int0 must have exactly 5 elements; got 4"
    ):
        arrays.make_data(int0=[1, 2, 3, 4])
    with pytest.raises(TypeError, match=r"Test\.command_setArrays\.double0 must be a sequence of 5"):
        arrays.make_data(double0=1.0)
    with pytest.raises(TypeError, match=r"Test\.command_setArrays\.int0\[2\] must be an int"):
        arrays.make_data(int0=[1, 2, 3.5, 4, 5])
    with pytest.raises(TypeError, match=r"Test\.command_setScalars\.string0 must be a str; got int 3"):
        scalars.make_data(string0=3)
    with pytest.raises(TypeError, match=r"Test\.command_setScalars\.boolean0 must be a bool"):
        scalars.make_data(boolean0=1)
    with pytest.raises(TypeError, match=r"Test\.command_setScalars\.int0 must be an int"):
        scalars.make_data(int0=True)
    with pytest.raises(ValueError, match=r"Test\.command_setScalars\.short0=40000 is out of range"):
        scalars.make_data(short0=40000)
    with pytest.raises(ValueError, match=r"unsignedInt0=-1 is out of range"):
        scalars.make_data(unsignedInt0=-1)
    with pytest.raises(ValueError, match="too large for SAL type 'float'"):
        scalars.make_data(float0=1e39)
    assert (
        scalars.make_data(float0=float("nan"), double0=np.float32(2.5), boolean0=np.bool_(True)).boolean0
        is True
    )
    with pytest.raises(TypeError, match=r"Test\.command_setScalars\.private_seqNum must be an int"):
        scalars.make_data(private_seqNum="1")


def test_check_copy_and_get_values() -> None:
    topic = ComponentInfo.from_name("Test").topics["tel_arrays"]
    data = topic.make_data(int0=[1, 2, 3, 4, 5])
    copied = topic.copy_data(data)
    assert copied == data
    copied.int0[0] = 99
    assert data.int0[0] == 1
    topic.check_data(data)
    data.int0 = [1, 2]  # direct assignment is not checked; check_data catches it
    with pytest.raises(ValueError, match="must have exactly 5 elements"):
        topic.check_data(data)
    with pytest.raises(TypeError, match="data must be a Test_arrays"):
        topic.check_data(ComponentInfo.from_name("Test").topics["evt_arrays"].DataType())
    values = topic.get_values(topic.make_data())
    assert list(values) == topic.field_names
    assert "salIndex" in topic.get_values(topic.make_data(), include_private=True)


def test_field_info_errors() -> None:
    with pytest.raises(ValueError, match="unknown type 'integer'"):
        FieldInfo("a", "integer")
    with pytest.raises(ValueError, match="cannot be an array"):
        FieldInfo("a", "string", count=2)
    with pytest.raises(ValueError, match="count=0 must be an integer >= 1"):
        FieldInfo("a", "int", count=0)
    with pytest.raises(ValueError, match="not a valid Python identifier"):
        FieldInfo("class", "int")
    with pytest.raises(ValueError, match="clash with the private fields"):
        TopicInfo("X", "t", "event", {"salIndex": FieldInfo("salIndex", "int")})
    with pytest.raises(ValueError, match="unknown kind 'evt'"):
        TopicInfo("X", "t", "evt", {})


def write_interface(
    tmp_path: pathlib.Path, data: dict[str, typing.Any], generics: bool = True
) -> pathlib.Path:
    if generics:
        (tmp_path / "_generics.yaml").write_text((INTERFACES_DIR / "_generics.yaml").read_text())
    path = tmp_path / f"{data.get('name', 'Bad')}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"name": "Bad", "topics": {}}, r"unknown keys \['topics'\]"),
        ({"name": "Bad", "indexed": "yes"}, "'indexed' must be true or false"),
        (
            {"name": "Bad", "events": {"e": {"fields": {"f": {"type": "int", "unit": "s"}}}}},
            r"event e: field f: unknown keys \['unit'\]",
        ),
        (
            {"name": "Bad", "events": {"e": {"fields": {"f": {"count": 2}}}}},
            "field f: missing required key 'type'",
        ),
        (
            {"name": "Bad", "events": {"e": {"fields": {"f": {"type": "long double"}}}}},
            "event e: Field f: unknown type",
        ),
        ({"name": "Bad", "generics": "cscs"}, "unknown generic 'cscs'"),
        (
            {"name": "Bad", "generics": "csc", "events": {"summaryState": {}}},
            "events summaryState is also a generic topic",
        ),
    ],
)
def test_malformed_files_are_rejected(
    tmp_path: pathlib.Path, data: dict[str, typing.Any], match: str
) -> None:
    path = write_interface(tmp_path, data)
    with pytest.raises(ValueError, match=match) as exc_info:
        ComponentInfo.from_file(path)
    assert str(path) in str(exc_info.value)


def test_generics_by_topic_name(tmp_path: pathlib.Path) -> None:
    path = write_interface(
        tmp_path, {"name": "Gen", "generics": ["logevent_clockOffset"], "commands": {"go": None}}
    )
    info = ComponentInfo.from_file(path)
    assert info.event_names == ["clockOffset"]
    assert info.command_names == ["go"]
    assert not info.indexed
