//! The parser's rules, each with the answer it gives, and property tests.

use proptest::prelude::*;

use super::*;
use crate::time::Timestamp;

const DOCS: &str = r#"[{"sensorId":"GDPD-DEB_MASS1.PV","valueName":"x","date":"2020-01-01T08:03:51.000Z","value":19.9,"precision":100}]"#;

#[test]
fn the_documented_reading_parses_and_round_trips() {
    let readings = parse_batch(DOCS.as_bytes()).unwrap();
    assert_eq!(
        readings,
        [ValidReading {
            sensor_id: "GDPD-DEB_MASS1.PV".into(),
            value_name: "x".into(),
            time_us: 1_577_865_831_000_000,
            value: 19.9,
            precision: Some(100),
            labels: Vec::new(),
        }]
    );
    let wire = serde_json::to_string(&[readings[0].to_wire()]).unwrap();
    assert_eq!(wire, DOCS, "the documented bytes, precision as an integer");
}

#[test]
fn labels_are_a_set_and_precision_a_whole_percentage() {
    let body = r#"[{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"precision":0,"labels":["line:2","batch-7","line:2","A_b.c"]},
                   {"sensorId":"s","date":"2020-01-01T00:00:01Z","value":1,"precision":100.0,"labels":null}]"#;
    let readings = parse_batch(body.as_bytes()).unwrap();
    assert_eq!(readings[0].labels, ["A_b.c", "batch-7", "line:2"]);
    assert_eq!(readings[0].precision, Some(0));
    assert_eq!(readings[1].labels, Vec::<String>::new());
    assert_eq!(readings[1].precision, Some(100));
    let wire = serde_json::to_value(readings[0].to_wire()).unwrap();
    assert_eq!(
        wire["labels"],
        serde_json::json!(["A_b.c", "batch-7", "line:2"])
    );
    assert_eq!(wire["precision"], serde_json::json!(0));
    let unlabelled = serde_json::to_value(readings[1].to_wire()).unwrap();
    assert!(unlabelled.get("labels").is_none(), "{unlabelled}");
    let legacy = Reading {
        precision: Some(0.5),
        ..readings[1].to_wire()
    };
    assert_eq!(serde_json::to_value(legacy).unwrap()["precision"], 0.5);
}

#[test]
fn defaults_offsets_and_sub_milliseconds() {
    let body = r#"[{"sensorId":"s","date":"2020-01-01T10:03:51.123456789+02:00","value":1,"unit":"kg","precision":null}]"#;
    let reading = &parse_batch(body.as_bytes()).unwrap()[0];
    assert_eq!(reading.value_name, "none");
    assert_eq!(reading.precision, None);
    assert_eq!(
        Timestamp::from_micros(reading.time_us).to_string(),
        "2020-01-01T08:03:51.123456Z",
        "UTC, microseconds, truncated"
    );
    assert_eq!(
        Timestamp::from_micros(1_577_865_831_000_000).to_string(),
        "2020-01-01T08:03:51.000Z"
    );
}

fn errors_of(body: &str) -> Vec<(usize, String, String)> {
    match parse_batch(body.as_bytes()) {
        Err(BatchError::Invalid { errors, .. }) => errors
            .into_iter()
            .map(|e| (e.index, e.field, e.reason))
            .collect(),
        other => panic!("{body}: {other:?}"),
    }
}

#[test]
fn each_rule_names_index_field_and_reason() {
    let cases = [
        (
            r#"{"date":"2020-01-01T00:00:00Z","value":1}"#,
            "sensorId",
            "is required",
        ),
        (
            r#"{"sensorId":"","date":"2020-01-01T00:00:00Z","value":1}"#,
            "sensorId",
            "must not be empty",
        ),
        (
            r#"{"sensorId":"a\u0007b","date":"2020-01-01T00:00:00Z","value":1}"#,
            "sensorId",
            "control characters",
        ),
        (
            r#"{"sensorId":7,"date":"2020-01-01T00:00:00Z","value":1}"#,
            "sensorId",
            "must be a string, not a number",
        ),
        (
            r#"{"sensorId":"s","valueName":"x-y","date":"2020-01-01T00:00:00Z","value":1}"#,
            "valueName",
            "ASCII letters",
        ),
        (
            r#"{"sensorId":"s","valueName":"","date":"2020-01-01T00:00:00Z","value":1}"#,
            "valueName",
            "ASCII letters",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01","value":1}"#,
            "date",
            "time zone",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00","value":1}"#,
            "date",
            "time zone",
        ),
        (
            r#"{"sensorId":"s","date":"yesterday","value":1}"#,
            "date",
            "ISO-8601",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:60Z","value":1}"#,
            "date",
            "60th second",
        ),
        (
            r#"{"sensorId":"s","date":"2016-12-31T23:59:60.5Z","value":1}"#,
            "date",
            "60th second",
        ),
        (
            r#"{"sensorId":"s","date":"9999-12-31T23:59:59-23:59","value":1}"#,
            "date",
            "years 0000 to 9999",
        ),
        (
            r#"{"sensorId":"s","date":"0000-01-01T00:00:00+14:00","value":1}"#,
            "date",
            "years 0000 to 9999",
        ),
        (r#"{"sensorId":"s","value":1}"#, "date", "is required"),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z"}"#,
            "value",
            "is required",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":"19.9"}"#,
            "value",
            "must be a number, not a string",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":null}"#,
            "value",
            "is required",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":[1]}"#,
            "value",
            "not an array",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"precision":"high"}"#,
            "precision",
            "must be an integer from 0 to 100, not a string",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"precision":101}"#,
            "precision",
            "integer from 0 to 100, not 101",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"precision":-1}"#,
            "precision",
            "integer from 0 to 100, not -1",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"precision":99.5}"#,
            "precision",
            "integer from 0 to 100, not 99.5",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":[]}"#,
            "labels",
            "1 to 16 labels, not 0",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":"a"}"#,
            "labels",
            "must be an array of strings, not a string",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":{"a":1}}"#,
            "labels",
            "not an object",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":["ok",7]}"#,
            "labels",
            "label 1 must be a string, not a number",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":["ok",null]}"#,
            "labels",
            "label 1 must be a string, not null",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":["a b"]}"#,
            "labels",
            r#"label 0 ("a b") must be 1 to 64"#,
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":[""]}"#,
            "labels",
            "label 0",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":["é"]}"#,
            "labels",
            "ASCII letters, digits, '_', '.', ':' or '-'",
        ),
        (
            r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":["a"],"labels":["b"]}"#,
            "labels",
            "more than once",
        ),
        (
            r#"{"sensorId":"s","sensorId":"t","date":"2020-01-01T00:00:00Z","value":1}"#,
            "sensorId",
            "more than once",
        ),
        (r#"42"#, "reading", "must be an object, not a number"),
    ];
    for (reading, field, reason) in cases {
        let body =
            format!(r#"[{{"sensorId":"ok","date":"2020-01-01T00:00:00Z","value":0}},{reading}]"#);
        let errors = errors_of(&body);
        assert_eq!(errors.len(), 1, "{reading}: {errors:?}");
        assert_eq!((errors[0].0, errors[0].1.as_str()), (1, field), "{reading}");
        assert!(errors[0].2.contains(reason), "{reading}: {:?}", errors[0].2);
    }
    let long_id = format!(
        r#"[{{"sensorId":"{}","date":"2020-01-01T00:00:00Z","value":1}}]"#,
        "s".repeat(257)
    );
    assert!(errors_of(&long_id)[0].2.contains("at most 256"));
    let label = |n: usize| format!("\"{}\"", "l".repeat(n));
    let labelled = |labels: Vec<String>| {
        format!(
            r#"[{{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1,"labels":[{}]}}]"#,
            labels.join(",")
        )
    };
    assert!(parse_batch(labelled(vec![label(64)]).as_bytes()).is_ok());
    assert!(
        errors_of(&labelled(vec![label(65)]))[0]
            .2
            .contains("label 0")
    );
    let sixteen: Vec<String> = (0..16).map(|i| format!("\"l{i}\"")).collect();
    assert_eq!(
        parse_batch(labelled(sixteen.clone()).as_bytes()).unwrap()[0]
            .labels
            .len(),
        16
    );
    let seventeen = [sixteen, vec![label(3)]].concat();
    assert!(errors_of(&labelled(seventeen))[0].2.contains("not 17"));
}

#[test]
fn whole_body_errors() {
    assert!(matches!(
        parse_batch(b"[{\"sensorId\":"),
        Err(BatchError::Malformed(_))
    ));
    assert!(matches!(parse_batch(b""), Err(BatchError::Malformed(_))));
    assert!(matches!(
        parse_batch(b"[] []"),
        Err(BatchError::Malformed(_))
    ));
    assert_eq!(
        parse_batch(br#"{"sensorId":"s"}"#),
        Err(BatchError::NotAnArray)
    );
    assert_eq!(parse_batch(b" [ ] "), Err(BatchError::Empty));
    let many = format!(
        "[{}]",
        vec![r#"{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1}"#; MAX_READINGS + 1]
            .join(",")
    );
    assert_eq!(
        parse_batch(many.as_bytes()),
        Err(BatchError::TooManyReadings)
    );
}

#[test]
fn errors_are_capped_but_counted() {
    let body = format!("[{}]", vec![r#"{"value":"x"}"#; 150].join(","));
    match parse_batch(body.as_bytes()) {
        Err(BatchError::Invalid {
            invalid_readings,
            total_errors,
            errors,
        }) => {
            assert_eq!(invalid_readings, 150);
            assert_eq!(total_errors, 450);
            assert_eq!(errors.len(), MAX_LISTED_ERRORS);
        }
        other => panic!("{other:?}"),
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_batch(&body);
    }

    #[test]
    fn arbitrary_json_shapes_never_panic(body in r#"\[(\{("(sensorId|valueName|date|value|precision|labels|x)":(-?[0-9]{1,3}(\.[0-9])?|"[^"\\]{0,12}"|null|true|\[\]|\{\}),?){0,6}\},?){0,4}\]"#) {
        let _ = parse_batch(body.as_bytes());
    }

    #[test]
    fn valid_readings_round_trip(
        sensor in "[A-Za-z0-9._-]{1,40}",
        name in "[A-Za-z0-9_]{1,20}",
        // Years 0000 to 9999.
        micros in -62_167_219_200_000_000i64..253_402_300_800_000_000i64,
        value in proptest::num::f64::NORMAL | proptest::num::f64::ZERO,
        precision in proptest::option::of(0u8..=100),
        labels in proptest::collection::btree_set("[A-Za-z0-9_.:-]{1,64}", 0..=16),
    ) {
        let labels = labels.into_iter().collect();
        let reading = ValidReading { sensor_id: sensor, value_name: name, time_us: micros, value, precision, labels };
        let body = serde_json::to_vec(&[reading.to_wire()]).unwrap();
        prop_assert_eq!(parse_batch(&body).unwrap(), vec![reading]);
    }
}
