//! The XML-RPC wire format: parsing a `<methodCall>` and writing a `<methodResponse>` (a
//! value or a fault), as Python's `xmlrpc.client` and supervisord produce and expect them.

use std::fmt::Write as _;

use quick_xml::events::Event;
use quick_xml::Reader;

/// An XML-RPC value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<int>` / `<i4>`.
    Int(i64),
    /// `<boolean>`.
    Bool(bool),
    /// `<string>` or an untyped value.
    String(String),
    /// `<double>`.
    Double(f64),
    /// `<array>`.
    Array(Vec<Value>),
    /// `<struct>`, members in order.
    Struct(Vec<(String, Value)>),
    /// `<base64>` (kept encoded).
    Base64(String),
    /// `<dateTime.iso8601>` (kept as text).
    DateTime(String),
    /// `<nil/>`.
    Nil,
    /// A value vigild has already written out (see [`Encoder`]): a big answer encoded
    /// straight from the snapshot. Only answers are encoded; parsing never makes one.
    Encoded(Encoded),
}

/// XML of one value, `<value>…</value>`, as only [`Encoder`] writes it: after the head of
/// a response ([`RESPONSE_HEAD`]), so that a big answer becomes its response without being
/// copied (an 11 MB `getAllProcessInfo` at 10,000 programs).
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded(String);

impl Encoded {
    /// The value's XML.
    fn xml(&self) -> &str {
        &self.0[RESPONSE_HEAD.len()..]
    }
}

/// What every `<methodResponse>` carrying a value starts with.
const RESPONSE_HEAD: &str = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n";
/// What it ends with.
const RESPONSE_TAIL: &str = "</param>\n</params>\n</methodResponse>\n";

/// Writes arrays of structs straight into one buffer, for answers as big as the fleet
/// (`getAllProcessInfo`): no `Value` per member, no copy of each name. The same rules as
/// every other value (the same functions write them).
#[derive(Debug)]
pub struct Encoder {
    out: String,
}

impl Encoder {
    /// An encoder with room for about `bytes`.
    pub fn with_capacity(bytes: usize) -> Encoder {
        let mut out = String::with_capacity(RESPONSE_HEAD.len() + bytes + RESPONSE_TAIL.len());
        out.push_str(RESPONSE_HEAD);
        Encoder { out }
    }

    /// Opens an array (closed by [`Encoder::end_array`]).
    pub fn begin_array(&mut self) {
        self.out.push_str("<value><array><data>\n");
    }

    /// Closes the array opened last.
    pub fn end_array(&mut self) {
        self.out.push_str("</data></array></value>\n");
    }

    /// Opens a struct (closed by [`Encoder::end_struct`]).
    pub fn begin_struct(&mut self) {
        self.out.push_str("<value><struct>\n");
    }

    /// Closes the struct opened last.
    pub fn end_struct(&mut self) {
        self.out.push_str("</struct></value>\n");
    }

    /// An `<int>` member of the open struct. Member names are vigild's own words, which
    /// need no escaping: they are written as they are (a big answer has 14 per process).
    pub fn int(&mut self, name: &'static str, number: i64) {
        debug_assert!(!name.contains(['&', '<', '>']));
        self.out.push_str("<member>\n<name>");
        self.out.push_str(name);
        self.out.push_str("</name>\n<value><int>");
        self.out.push_str(itoa::Buffer::new().format(number));
        self.out.push_str("</int></value>\n</member>\n");
    }

    /// A `<string>` member of the open struct (`name` as for [`Encoder::int`]).
    pub fn string(&mut self, name: &'static str, text: &str) {
        debug_assert!(!name.contains(['&', '<', '>']));
        self.out.push_str("<member>\n<name>");
        self.out.push_str(name);
        self.out.push_str("</name>\n<value><string>");
        escape_into(&mut self.out, text);
        self.out.push_str("</string></value>\n</member>\n");
    }

    /// What was written, as a value to answer with.
    pub fn finish(self) -> Value {
        Value::Encoded(Encoded(self.out))
    }
}

impl Value {
    /// A struct from `(name, value)` pairs.
    pub fn record(members: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
        Value::Struct(
            members
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    /// The member `name` of a struct.
    pub fn member(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(members) => members.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::String(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::String(text)
    }
}

impl From<i64> for Value {
    fn from(number: i64) -> Self {
        Value::Int(number)
    }
}

impl From<bool> for Value {
    fn from(flag: bool) -> Self {
        Value::Bool(flag)
    }
}

/// A parsed `<methodCall>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `methodName`.
    pub method: String,
    /// The params, in order.
    pub params: Vec<Value>,
}

/// Why a request body is not an XML-RPC call (answered with HTTP 400, as supervisord does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed XML-RPC request: {0}")]
pub struct Malformed(pub String);

/// Nesting allowed in a request, so a hostile body cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Parses a `<methodCall>`.
pub fn parse_call(body: &[u8]) -> Result<Call, Malformed> {
    let text = std::str::from_utf8(body).map_err(|_| Malformed("body is not UTF-8".into()))?;
    let mut parser = Parser::new(text);
    parser.open("methodCall")?;
    parser.open("methodName")?;
    let method = parser.text()?;
    parser.close("methodName")?;
    let mut params = Vec::new();
    match parser.next_tag()? {
        Tag::Open(name) if name == "params" => {
            loop {
                match parser.next_tag()? {
                    Tag::Open(name) if name == "param" => {
                        params.push(parser.value_element(0)?);
                        parser.close("param")?;
                    }
                    Tag::Close(name) if name == "params" => break,
                    Tag::Empty(name) if name == "params" => break,
                    other => return Err(unexpected(&other)),
                }
            }
            parser.close("methodCall")?;
        }
        Tag::Empty(name) if name == "params" => parser.close("methodCall")?,
        Tag::Close(name) if name == "methodCall" => {}
        other => return Err(unexpected(&other)),
    }
    Ok(Call {
        method: method.trim().to_string(),
        params,
    })
}

#[derive(Debug)]
enum Tag {
    Open(String),
    Close(String),
    Empty(String),
    Text(String),
}

fn unexpected(tag: &Tag) -> Malformed {
    Malformed(format!("unexpected {tag:?}"))
}

struct Parser<'a> {
    reader: Reader<&'a [u8]>,
    pending: Option<Tag>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        let mut reader = Reader::from_str(text);
        reader.config_mut().trim_text(false);
        Parser {
            reader,
            pending: None,
        }
    }

    /// The next tag or text, skipping declarations, comments and blank text.
    fn next_any(&mut self) -> Result<Tag, Malformed> {
        if let Some(tag) = self.pending.take() {
            return Ok(tag);
        }
        loop {
            let event = self
                .reader
                .read_event()
                .map_err(|e| Malformed(e.to_string()))?;
            return Ok(match event {
                Event::Start(e) => Tag::Open(name_of(e.name().as_ref())),
                Event::End(e) => Tag::Close(name_of(e.name().as_ref())),
                Event::Empty(e) => Tag::Empty(name_of(e.name().as_ref())),
                Event::Text(e) => Tag::Text(
                    e.decode()
                        .map_err(|e| Malformed(e.to_string()))?
                        .into_owned(),
                ),
                Event::GeneralRef(e) => {
                    let name = e.decode().map_err(|e| Malformed(e.to_string()))?;
                    Tag::Text(resolve_entity(&name)?)
                }
                Event::CData(e) => Tag::Text(String::from_utf8_lossy(&e).into_owned()),
                Event::Eof => return Err(Malformed("unexpected end of document".into())),
                _ => continue,
            });
        }
    }

    /// The next tag, skipping whitespace text.
    fn next_tag(&mut self) -> Result<Tag, Malformed> {
        loop {
            match self.next_any()? {
                Tag::Text(text) if text.trim().is_empty() => continue,
                tag => return Ok(tag),
            }
        }
    }

    fn open(&mut self, expected: &str) -> Result<(), Malformed> {
        match self.next_tag()? {
            Tag::Open(name) if name == expected => Ok(()),
            other => Err(Malformed(format!("expected <{expected}>, found {other:?}"))),
        }
    }

    fn close(&mut self, expected: &str) -> Result<(), Malformed> {
        match self.next_tag()? {
            Tag::Close(name) if name == expected => Ok(()),
            other => Err(Malformed(format!(
                "expected </{expected}>, found {other:?}"
            ))),
        }
    }

    /// Text up to the next tag (entities resolved, pieces joined).
    fn text(&mut self) -> Result<String, Malformed> {
        let mut text = String::new();
        loop {
            match self.next_any()? {
                Tag::Text(piece) => text.push_str(&piece),
                tag => {
                    self.pending = Some(tag);
                    return Ok(text);
                }
            }
        }
    }

    /// `<value>…</value>`.
    fn value_element(&mut self, depth: usize) -> Result<Value, Malformed> {
        if depth > MAX_DEPTH {
            return Err(Malformed("values nested too deeply".into()));
        }
        match self.next_tag()? {
            Tag::Open(name) if name == "value" => {}
            Tag::Empty(name) if name == "value" => return Ok(Value::String(String::new())),
            other => return Err(unexpected(&other)),
        }
        // An untyped value is a string.
        let leading = self.text()?;
        let value = match self.next_tag()? {
            Tag::Close(name) if name == "value" => return Ok(Value::String(leading)),
            Tag::Empty(name) => match name.as_str() {
                "nil" => Value::Nil,
                "string" => Value::String(String::new()),
                "base64" => Value::Base64(String::new()),
                "array" => Value::Array(Vec::new()),
                "struct" => Value::Struct(Vec::new()),
                other => return Err(Malformed(format!("empty <{other}/>"))),
            },
            Tag::Open(kind) => self.typed(&kind, depth)?,
            other => return Err(unexpected(&other)),
        };
        self.close("value")?;
        Ok(value)
    }

    fn typed(&mut self, kind: &str, depth: usize) -> Result<Value, Malformed> {
        let value = match kind {
            "int" | "i4" | "i8" => {
                let text = self.text()?;
                Value::Int(
                    text.trim()
                        .parse()
                        .map_err(|_| Malformed(format!("bad int {text:?}")))?,
                )
            }
            "boolean" => match self.text()?.trim() {
                "1" => Value::Bool(true),
                "0" => Value::Bool(false),
                other => return Err(Malformed(format!("bad boolean {other:?}"))),
            },
            "string" => Value::String(self.text()?),
            "double" => {
                let text = self.text()?;
                Value::Double(
                    text.trim()
                        .parse()
                        .map_err(|_| Malformed(format!("bad double {text:?}")))?,
                )
            }
            "base64" => Value::Base64(self.text()?.trim().to_string()),
            "dateTime.iso8601" => Value::DateTime(self.text()?.trim().to_string()),
            "array" => {
                // `<data/>` is an empty array too.
                match self.next_tag()? {
                    Tag::Open(name) if name == "data" => {}
                    Tag::Empty(name) if name == "data" => {
                        self.close(kind)?;
                        return Ok(Value::Array(Vec::new()));
                    }
                    other => return Err(unexpected(&other)),
                }
                let mut items = Vec::new();
                loop {
                    match self.next_tag()? {
                        Tag::Close(name) if name == "data" => break,
                        tag => {
                            self.pending = Some(tag);
                            items.push(self.value_element(depth + 1)?);
                        }
                    }
                }
                Value::Array(items)
            }
            "struct" => {
                let mut members = Vec::new();
                loop {
                    match self.next_tag()? {
                        Tag::Close(name) if name == "struct" => return Ok(Value::Struct(members)),
                        Tag::Open(name) if name == "member" => {
                            self.open("name")?;
                            let key = self.text()?;
                            self.close("name")?;
                            let value = self.value_element(depth + 1)?;
                            self.close("member")?;
                            members.push((key, value));
                        }
                        other => return Err(unexpected(&other)),
                    }
                }
            }
            other => return Err(Malformed(format!("unknown type <{other}>"))),
        };
        self.close(kind)?;
        Ok(value)
    }
}

fn name_of(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

fn resolve_entity(name: &str) -> Result<String, Malformed> {
    let resolved = match name {
        "lt" => "<".to_string(),
        "gt" => ">".to_string(),
        "amp" => "&".to_string(),
        "quot" => "\"".to_string(),
        "apos" => "'".to_string(),
        _ => {
            let code = name
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| name.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32)
                .ok_or_else(|| Malformed(format!("unknown entity &{name};")))?;
            code.to_string()
        }
    };
    Ok(resolved)
}

/// A parsed `<methodResponse>`: the value, or the fault's code and string.
pub fn parse_response(body: &[u8]) -> Result<Result<Value, (i64, String)>, Malformed> {
    let text = std::str::from_utf8(body).map_err(|_| Malformed("body is not UTF-8".into()))?;
    let mut parser = Parser::new(text);
    parser.open("methodResponse")?;
    match parser.next_tag()? {
        Tag::Open(name) if name == "params" => {
            parser.open("param")?;
            let value = parser.value_element(0)?;
            Ok(Ok(value))
        }
        Tag::Open(name) if name == "fault" => {
            let fault = parser.value_element(0)?;
            let code = match fault.member("faultCode") {
                Some(Value::Int(code)) => *code,
                _ => return Err(Malformed("fault without faultCode".into())),
            };
            let text = match fault.member("faultString") {
                Some(Value::String(text)) => text.clone(),
                _ => String::new(),
            };
            Ok(Err((code, text)))
        }
        other => Err(unexpected(&other)),
    }
}

/// A `<methodCall>` of `method` with `params` (for clients).
pub fn call(method: &str, params: &[Value]) -> String {
    let mut out = String::from("<?xml version='1.0'?>\n<methodCall>\n<methodName>");
    escape_into(&mut out, method);
    out.push_str("</methodName>\n<params>\n");
    for param in params {
        out.push_str("<param>\n");
        write_value(&mut out, param);
        out.push_str("</param>\n");
    }
    out.push_str("</params>\n</methodCall>\n");
    out
}

/// A `<methodResponse>` carrying `value`; an encoded value is its own response already.
pub fn response(value: Value) -> String {
    if let Value::Encoded(Encoded(mut out)) = value {
        out.push_str(RESPONSE_TAIL);
        return out;
    }
    let mut out = String::with_capacity(256);
    out.push_str(RESPONSE_HEAD);
    write_value(&mut out, &value);
    out.push_str(RESPONSE_TAIL);
    out
}

/// A `<methodResponse>` carrying a fault.
pub fn fault(code: i64, text: &str) -> String {
    let mut out = String::from("<?xml version='1.0'?>\n<methodResponse>\n<fault>\n");
    write_value(
        &mut out,
        &Value::record([
            ("faultCode", Value::Int(code)),
            ("faultString", Value::from(text)),
        ]),
    );
    out.push_str("</fault>\n</methodResponse>\n");
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Int(n) => write_int(out, *n),
        Value::String(s) => write_string(out, s),
        Value::Encoded(encoded) => out.push_str(encoded.xml()),
        Value::Array(items) => {
            out.push_str("<value><array><data>\n");
            for item in items {
                write_value(out, item);
            }
            out.push_str("</data></array></value>\n");
        }
        Value::Struct(members) => {
            out.push_str("<value><struct>\n");
            for (name, member) in members {
                open_member(out, name);
                write_value(out, member);
                out.push_str("</member>\n");
            }
            out.push_str("</struct></value>\n");
        }
        Value::Bool(b) => {
            let _ = writeln!(out, "<value><boolean>{}</boolean></value>", u8::from(*b));
        }
        Value::Double(d) => {
            let _ = writeln!(out, "<value><double>{d:?}</double></value>");
        }
        Value::Base64(b) => {
            let _ = writeln!(out, "<value><base64>{b}</base64></value>");
        }
        Value::DateTime(d) => {
            let _ = writeln!(
                out,
                "<value><dateTime.iso8601>{d}</dateTime.iso8601></value>"
            );
        }
        Value::Nil => out.push_str("<value><nil/></value>\n"),
    }
}

fn write_int(out: &mut String, number: i64) {
    out.push_str("<value><int>");
    out.push_str(itoa::Buffer::new().format(number));
    out.push_str("</int></value>\n");
}

fn write_string(out: &mut String, text: &str) {
    out.push_str("<value><string>");
    escape_into(out, text);
    out.push_str("</string></value>\n");
}

fn open_member(out: &mut String, name: &str) {
    out.push_str("<member>\n<name>");
    escape_into(out, name);
    out.push_str("</name>\n");
}

/// XML-escapes `text`, dropping characters XML 1.0 cannot carry (as Python's client would
/// fail on them). Runs of text that need nothing are copied whole (every byte it looks for
/// is ASCII, so each cut is on a character boundary); one table lookup per byte decides.
fn escape_into(out: &mut String, text: &str) {
    let mut clean = 0;
    for (at, byte) in text.bytes().enumerate() {
        let replacement = match ESCAPES[usize::from(byte)] {
            Escape::Keep => continue,
            Escape::Amp => "&amp;",
            Escape::Lt => "&lt;",
            Escape::Gt => "&gt;",
            Escape::Drop => "",
        };
        out.push_str(&text[clean..at]);
        out.push_str(replacement);
        clean = at + 1;
    }
    out.push_str(&text[clean..]);
}

/// What [`escape_into`] does with one byte.
#[derive(Clone, Copy)]
enum Escape {
    Keep,
    Amp,
    Lt,
    Gt,
    /// A control character XML 1.0 cannot carry (all below 0x20 but tab, LF and CR).
    Drop,
}

/// [`Escape`] of every byte value.
const ESCAPES: [Escape; 256] = {
    let mut table = [Escape::Keep; 256];
    let mut byte = 0;
    while byte < 0x20 {
        if !matches!(byte, b'\t' | b'\n' | b'\r') {
            table[byte as usize] = Escape::Drop;
        }
        byte += 1;
    }
    table[b'&' as usize] = Escape::Amp;
    table[b'<' as usize] = Escape::Lt;
    table[b'>' as usize] = Escape::Gt;
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_python_client_call() {
        let body = br"<?xml version='1.0'?>
<methodCall>
<methodName>supervisor.startProcess</methodName>
<params>
<param>
<value><string>web:web_0</string></value>
</param>
<param>
<value><boolean>1</boolean></value>
</param>
</params>
</methodCall>
";
        let call = parse_call(body).expect("parses");
        assert_eq!(call.method, "supervisor.startProcess");
        assert_eq!(
            call.params,
            vec![Value::from("web:web_0"), Value::Bool(true)]
        );
    }

    #[test]
    fn parses_nested_values_entities_and_untyped_strings() {
        let body = br"<methodCall><methodName>system.multicall</methodName><params><param><value><array><data>
<value><struct><member><name>methodName</name><value>supervisor.getState</value></member>
<member><name>params</name><value><array><data><value><int>-3</int></value><value>a &amp; b&#x21;</value></data></array></value></member></struct></value>
</data></array></value></param></params></methodCall>";
        let call = parse_call(body).expect("parses");
        let Value::Array(calls) = &call.params[0] else {
            panic!("array expected")
        };
        assert_eq!(
            calls[0].member("methodName"),
            Some(&Value::from("supervisor.getState"))
        );
        assert_eq!(
            calls[0].member("params"),
            Some(&Value::Array(vec![Value::Int(-3), Value::from("a & b!")]))
        );
    }

    #[test]
    fn empty_element_forms_parse() {
        let body = b"<methodCall><methodName>x</methodName><params><param><value><array><data/></array></value></param>\
<param><value><string/></value></param><param><value/></param></params></methodCall>";
        let call = parse_call(body).expect("parses");
        assert_eq!(
            call.params,
            vec![Value::Array(vec![]), Value::from(""), Value::from("")]
        );
    }

    #[test]
    fn calls_without_params_parse() {
        let call =
            parse_call(b"<methodCall><methodName>supervisor.getPID</methodName></methodCall>")
                .expect("parses");
        assert!(call.params.is_empty());
        let call = parse_call(b"<methodCall><methodName>x</methodName><params/></methodCall>")
            .expect("parses");
        assert!(call.params.is_empty());
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        for body in [
            &b""[..],
            b"not xml",
            b"<methodCall>",
            b"<methodCall><methodName>x</methodName><params><param><value><int>x</int></value></param></params></methodCall>",
            b"\xff\xfe",
        ] {
            assert!(parse_call(body).is_err(), "{body:?}");
        }
        let deep = format!(
            "<methodCall><methodName>x</methodName><params><param>{}{}</param></params></methodCall>",
            "<value><array><data>".repeat(200),
            "</data></array></value>".repeat(200)
        );
        assert!(parse_call(deep.as_bytes()).is_err());
    }

    #[test]
    fn clients_read_back_what_servers_write() {
        let value = Value::Array(vec![Value::from("x"), Value::Int(3), Value::Bool(false)]);
        assert_eq!(
            parse_response(response(value.clone()).as_bytes()),
            Ok(Ok(value))
        );
        assert_eq!(
            parse_response(fault(70, "NOT_RUNNING: a").as_bytes()),
            Ok(Err((70, "NOT_RUNNING: a".into())))
        );
        let call_text = call(
            "supervisor.startProcess",
            &[Value::from("a&b"), Value::Bool(true)],
        );
        let parsed = parse_call(call_text.as_bytes()).expect("parses");
        assert_eq!(parsed.method, "supervisor.startProcess");
        assert_eq!(parsed.params, vec![Value::from("a&b"), Value::Bool(true)]);
    }

    #[test]
    fn escaping_copies_clean_runs_escapes_markup_and_drops_what_xml_cannot_carry() {
        let mut out = String::new();
        escape_into(
            &mut out,
            "caf\u{e9} a&b <x> \u{1}\u{1f}tab\tnl\ncr\r \u{2603}>",
        );
        assert_eq!(
            out,
            "caf\u{e9} a&amp;b &lt;x&gt; tab\tnl\ncr\r \u{2603}&gt;"
        );
        let mut out = String::from("kept ");
        escape_into(&mut out, "");
        escape_into(&mut out, "plain");
        assert_eq!(out, "kept plain");
    }

    #[test]
    fn an_encoded_answer_is_its_own_response_and_nests_like_any_value() {
        let mut encoder = Encoder::with_capacity(0);
        encoder.begin_struct();
        encoder.string("name", "a<b");
        encoder.int("pid", -7);
        encoder.end_struct();
        let encoded = encoder.finish();
        let expected = Value::record([("name", Value::from("a<b")), ("pid", Value::Int(-7))]);
        assert_eq!(
            parse_response(response(encoded.clone()).as_bytes()),
            Ok(Ok(expected.clone()))
        );
        assert_eq!(
            response(encoded.clone()),
            response(expected.clone()),
            "the same bytes as the value built member by member"
        );
        let nested = Value::Array(vec![encoded, Value::Int(1)]);
        assert_eq!(
            parse_response(response(nested).as_bytes()),
            Ok(Ok(Value::Array(vec![expected, Value::Int(1)])))
        );
    }

    #[test]
    fn responses_and_faults_round_trip() {
        let value = Value::record([
            ("name", Value::from("a<b")),
            ("pid", Value::Int(7)),
            ("ok", Value::Bool(true)),
        ]);
        let text = response(value);
        assert!(
            text.contains("<string>a&lt;b</string>") && text.contains("<int>7</int>"),
            "{text}"
        );
        let text = fault(10, "BAD_NAME: nope");
        assert!(
            text.contains("<name>faultCode</name>\n<value><int>10</int></value>"),
            "{text}"
        );
    }
}
