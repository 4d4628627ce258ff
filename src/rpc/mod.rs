//! supervisord's XML-RPC API: the wire format ([`codec`]), the fault codes ([`faults`]) and
//! the method table ([`methods`]) that maps `supervisor.*` and `system.*` calls onto the
//! supervisor. No transport here: the http module carries the bytes.

pub mod codec;
pub mod faults;
pub mod methods;
