//! The event types a listener may subscribe to (`[eventlistener:x] events=`): supervisord's,
//! with the parent each belongs to, and vigil's own. The config checks names against it;
//! the event pools use it to decide who gets what. Only names live here, no payloads.

/// Every event type with its parent: subscribing to a parent delivers all its subtypes.
/// vigil's own types have no parent, so only listeners that name them get them.
const TYPES: &[(&str, Option<&str>)] = &[
    ("EVENT", None),
    ("PROCESS_STATE", Some("EVENT")),
    ("PROCESS_STATE_STARTING", Some("PROCESS_STATE")),
    ("PROCESS_STATE_RUNNING", Some("PROCESS_STATE")),
    ("PROCESS_STATE_BACKOFF", Some("PROCESS_STATE")),
    ("PROCESS_STATE_STOPPING", Some("PROCESS_STATE")),
    ("PROCESS_STATE_EXITED", Some("PROCESS_STATE")),
    ("PROCESS_STATE_STOPPED", Some("PROCESS_STATE")),
    ("PROCESS_STATE_FATAL", Some("PROCESS_STATE")),
    ("PROCESS_STATE_UNKNOWN", Some("PROCESS_STATE")),
    ("PROCESS_LOG", Some("EVENT")),
    ("PROCESS_LOG_STDOUT", Some("PROCESS_LOG")),
    ("PROCESS_LOG_STDERR", Some("PROCESS_LOG")),
    ("PROCESS_COMMUNICATION", Some("EVENT")),
    (
        "PROCESS_COMMUNICATION_STDOUT",
        Some("PROCESS_COMMUNICATION"),
    ),
    (
        "PROCESS_COMMUNICATION_STDERR",
        Some("PROCESS_COMMUNICATION"),
    ),
    ("SUPERVISOR_STATE_CHANGE", Some("EVENT")),
    (
        "SUPERVISOR_STATE_CHANGE_RUNNING",
        Some("SUPERVISOR_STATE_CHANGE"),
    ),
    (
        "SUPERVISOR_STATE_CHANGE_STOPPING",
        Some("SUPERVISOR_STATE_CHANGE"),
    ),
    ("TICK", Some("EVENT")),
    ("TICK_5", Some("TICK")),
    ("TICK_60", Some("TICK")),
    ("TICK_3600", Some("TICK")),
    ("PROCESS_GROUP", Some("EVENT")),
    ("PROCESS_GROUP_ADDED", Some("PROCESS_GROUP")),
    ("PROCESS_GROUP_REMOVED", Some("PROCESS_GROUP")),
    ("REMOTE_COMMUNICATION", Some("EVENT")),
    ("VIGIL_CRASHLOOP", None),
    ("VIGIL_CRASH", None),
    ("VIGIL_HEALTH", None),
    ("VIGIL_RELOAD", None),
    ("VIGIL_REEXEC", None),
    ("VIGIL_SCHEDULE", None),
];

/// Whether `name` is an event type a listener may subscribe to.
pub fn is_known_type(name: &str) -> bool {
    TYPES.iter().any(|(known, _)| *known == name)
}

/// The type's name as this vigil spells it, for an event carried by name (a handover).
pub fn known_name(name: &str) -> Option<&'static str> {
    TYPES
        .iter()
        .map(|(known, _)| *known)
        .find(|known| *known == name)
}

/// Whether a subscription to `subscription` delivers events of type `name`.
pub fn subscribes(subscription: &str, name: &str) -> bool {
    let mut current = Some(name);
    while let Some(type_name) = current {
        if type_name == subscription {
            return true;
        }
        current = TYPES
            .iter()
            .find(|(known, _)| *known == type_name)
            .and_then(|(_, parent)| *parent);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_follow_the_type_tree() {
        assert!(subscribes("EVENT", "PROCESS_STATE_RUNNING"));
        assert!(subscribes("PROCESS_STATE", "PROCESS_STATE_EXITED"));
        assert!(subscribes("TICK_5", "TICK_5"));
        assert!(!subscribes("TICK_5", "TICK_60"));
        assert!(
            !subscribes("EVENT", "VIGIL_CRASH"),
            "vigil's own only by name"
        );
        assert!(subscribes("VIGIL_CRASH", "VIGIL_CRASH"));
        assert!(is_known_type("VIGIL_CRASHLOOP") && !is_known_type("NOPE"));
    }
}
