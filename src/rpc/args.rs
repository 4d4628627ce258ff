//! Decoding a call's positional arguments into the shapes supervisord's methods take, with
//! its defaults (`wait=True`, `n=0`) and INCORRECT_PARAMETERS (or BAD_SIGNAL) on misuse. It
//! knows values only: it never looks up a process or talks to the supervisor.

use super::codec::Value;
use super::faults::{Fault, FaultCode};

/// A call's positional arguments.
#[derive(Clone, Copy)]
pub struct Args<'a>(pub &'a [Value]);

/// The fault for arguments of the wrong number or type.
fn incorrect() -> Fault {
    Fault::bare(FaultCode::IncorrectParameters)
}

impl<'a> Args<'a> {
    /// `()`.
    pub fn none(self) -> Result<(), Fault> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(incorrect())
        }
    }

    /// `(name)`.
    pub fn string(self) -> Result<&'a str, Fault> {
        match self.0 {
            [Value::String(s)] => Ok(s),
            _ => Err(incorrect()),
        }
    }

    /// `(name, text)`, both strings.
    pub fn two_strings(self) -> Result<(&'a str, &'a str), Fault> {
        match self.0 {
            [Value::String(a), Value::String(b)] => Ok((a, b)),
            _ => Err(incorrect()),
        }
    }

    /// `(name, signal)`: the signal as a name or a number (`'HUP'` or `1`), as text.
    pub fn string_and_signal(self) -> Result<(&'a str, String), Fault> {
        match self.0 {
            [Value::String(a), b] => Ok((a, scalar_text(b)?)),
            _ => Err(incorrect()),
        }
    }

    /// `(name, wait=True)`.
    pub fn string_and_wait(self) -> Result<(&'a str, bool), Fault> {
        match self.0 {
            [Value::String(s)] => Ok((s, true)),
            [Value::String(s), wait] => Ok((s, truthy(wait)?)),
            _ => Err(incorrect()),
        }
    }

    /// `(wait=True)`.
    pub fn wait_only(self) -> Result<bool, Fault> {
        match self.0 {
            [] => Ok(true),
            [wait] => truthy(wait),
            _ => Err(incorrect()),
        }
    }

    /// `(name, n=0)`.
    pub fn string_and_optional_int(self) -> Result<(&'a str, i64), Fault> {
        match self.0 {
            [Value::String(s)] => Ok((s, 0)),
            [Value::String(s), Value::Int(n)] => Ok((s, *n)),
            _ => Err(incorrect()),
        }
    }

    /// `(name, n)`.
    pub fn string_and_int(self) -> Result<(&'a str, i64), Fault> {
        match self.0 {
            [Value::String(s), Value::Int(n)] => Ok((s, *n)),
            _ => Err(incorrect()),
        }
    }

    /// `(offset, length)`.
    pub fn two_ints(self) -> Result<(i64, i64), Fault> {
        match self.0 {
            [Value::Int(a), Value::Int(b)] => Ok((*a, *b)),
            _ => Err(incorrect()),
        }
    }

    /// `(name, offset, length)`.
    pub fn string_and_two_ints(self) -> Result<(&'a str, i64, i64), Fault> {
        match self.0 {
            [Value::String(s), Value::Int(a), Value::Int(b)] => Ok((s, *a, *b)),
            _ => Err(incorrect()),
        }
    }

    /// `(names, wait=True)`: the list undecoded, as each entry is checked in turn (a bad
    /// name before a non-string one is reported as the bad name).
    pub fn list_and_wait(self) -> Result<(&'a [Value], bool), Fault> {
        match self.0 {
            [Value::Array(names)] => Ok((names, true)),
            [Value::Array(names), wait] => Ok((names, truthy(wait)?)),
            _ => Err(incorrect()),
        }
    }

    /// `(group, batch=1, wait_healthy=True)`.
    pub fn group_batch_and_wait(self) -> Result<(&'a str, i64, bool), Fault> {
        match self.0 {
            [Value::String(group)] => Ok((group, 1, true)),
            [Value::String(group), Value::Int(batch)] => Ok((group, *batch, true)),
            [Value::String(group), Value::Int(batch), wait] => Ok((group, *batch, truthy(wait)?)),
            _ => Err(incorrect()),
        }
    }
}

/// One entry of a name list: a string, or INCORRECT_PARAMETERS.
pub fn list_entry(value: &Value) -> Result<&str, Fault> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err(incorrect()),
    }
}

/// A `wait` flag: a boolean, or an int as Python's truth.
fn truthy(value: &Value) -> Result<bool, Fault> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Int(n) => Ok(*n != 0),
        _ => Err(incorrect()),
    }
}

/// A signal given as a name or a number (`signalProcess(name, 'HUP')` or `(name, 1)`).
fn scalar_text(value: &Value) -> Result<String, Fault> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Int(n) => Ok(n.to_string()),
        _ => Err(incorrect()),
    }
}

/// The signal number of `text` (`HUP`, `SIGHUP`, `1`), or BAD_SIGNAL naming it.
pub fn signal_number(text: &str) -> Result<i32, Fault> {
    crate::config::value::signal(text)
        .map(|signal| signal as i32)
        .map_err(|_| Fault::with(FaultCode::BadSignal, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_defaults_to_true_and_takes_ints() {
        let name = Value::from("a");
        assert_eq!(
            Args(std::slice::from_ref(&name)).string_and_wait(),
            Ok(("a", true))
        );
        assert_eq!(
            Args(&[name.clone(), Value::Int(0)]).string_and_wait(),
            Ok(("a", false))
        );
        assert_eq!(Args(&[]).wait_only(), Ok(true));
        assert_eq!(
            Args(&[name, Value::from("x")]).string_and_wait(),
            Err(incorrect())
        );
    }

    #[test]
    fn signals_come_as_names_or_numbers() {
        let name = Value::from("a");
        assert_eq!(
            Args(&[name.clone(), Value::Int(9)]).string_and_signal(),
            Ok(("a", "9".to_string()))
        );
        assert_eq!(
            Args(&[name, Value::Bool(true)]).string_and_signal(),
            Err(incorrect())
        );
        assert_eq!(signal_number("HUP"), Ok(1));
        assert_eq!(
            signal_number("BOGUS"),
            Err(Fault::with(FaultCode::BadSignal, "BOGUS"))
        );
    }

    #[test]
    fn strict_shapes_refuse_extras() {
        assert_eq!(Args(&[Value::Int(1)]).none(), Err(incorrect()));
        assert_eq!(Args(&[Value::Int(1)]).string(), Err(incorrect()));
        assert_eq!(
            Args(&[Value::from("a"), Value::Int(1)]).two_strings(),
            Err(incorrect())
        );
        assert_eq!(
            Args(&[Value::from("g")]).group_batch_and_wait(),
            Ok(("g", 1, true))
        );
    }
}
