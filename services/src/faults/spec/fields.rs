//! Typed reads of one field of a fault body (a number or an integer in a range), with
//! the error message naming the field, the accepted range and what was sent instead.

use serde_json::{Map, Value};

use super::{SpecError, invalid};

pub fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A number field in `[min, max]`.
pub fn number(
    body: &Map<String, Value>,
    field: &str,
    min: f64,
    max: f64,
    unit: &str,
) -> Result<Option<f64>, SpecError> {
    let Some(value) = body.get(field) else {
        return Ok(None);
    };
    let range = format!("from {} to {}{unit}", fmt_num(min), fmt_num(max));
    let Some(n) = value.as_f64() else {
        return Err(invalid(
            field,
            format!("must be a number {range}, got {}", describe(value)),
        ));
    };
    if !(min..=max).contains(&n) {
        return Err(invalid(
            field,
            format!("must be {range}, got {}", fmt_num(n)),
        ));
    }
    Ok(Some(n))
}

/// An integer field in `[min, max]`.
pub fn integer(
    body: &Map<String, Value>,
    field: &str,
    min: u64,
    max: u64,
    unit: &str,
) -> Result<Option<u64>, SpecError> {
    let Some(value) = body.get(field) else {
        return Ok(None);
    };
    let range = format!("from {min} to {max}{unit}");
    let Some(n) = value.as_f64() else {
        return Err(invalid(
            field,
            format!("must be an integer {range}, got {}", describe(value)),
        ));
    };
    if n.fract() != 0.0 {
        return Err(invalid(
            field,
            format!("must be a whole number {range}, got {n}"),
        ));
    }
    if n < min as f64 || n > max as f64 {
        return Err(invalid(
            field,
            format!("must be {range}, got {}", fmt_num(n)),
        ));
    }
    Ok(Some(n as u64))
}
