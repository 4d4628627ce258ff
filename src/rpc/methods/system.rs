//! `system.listMethods`, `system.methodHelp` and `system.methodSignature`: answered from the
//! method table alone, so they always agree with what is dispatched.

use super::Outcome;
use crate::rpc::args::Args;
use crate::rpc::codec::Value;
use crate::rpc::faults::{Fault, FaultCode};
use crate::rpc::table::Method;

/// `system.listMethods()`: every method, sorted.
pub(super) fn list_methods(args: Args<'_>) -> Outcome {
    args.none()?;
    Ok(Value::Array(
        Method::ALL.iter().map(|m| Value::from(m.name())).collect(),
    ))
}

/// `system.methodHelp(name)`.
pub(super) fn method_help(args: Args<'_>) -> Outcome {
    described(args).map(|method| Value::from(method.help()))
}

/// `system.methodSignature(name)`: `[return, params…]`.
pub(super) fn method_signature(args: Args<'_>) -> Outcome {
    described(args)
        .map(|method| Value::Array(method.signature().iter().map(|t| Value::from(*t)).collect()))
}

/// The method a help or signature call asks about; an unknown one is
/// SIGNATURE_UNSUPPORTED.
fn described(args: Args<'_>) -> Result<Method, Fault> {
    args.string()?
        .parse()
        .map_err(|_| Fault::bare(FaultCode::SignatureUnsupported))
}
