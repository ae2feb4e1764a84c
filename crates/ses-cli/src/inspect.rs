//! `sealdesk seal inspect`: what a file is and what it holds, as text or JSON.

use std::path::Path;

use crate::{Io, say};

use sealdesk_ses::{self as ses, CertInfo, CertList, Parsed, Seal, SesSignature};
use serde_json::{Value, json};

fn cert_json(der: &[u8]) -> Value {
    match ses::parse_certificate(der) {
        Ok(c) => serde_json::to_value(&c).unwrap_or(Value::Null),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

fn seal_json(s: &Seal) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("maker_cert".into(), cert_json(&s.maker_cert));
        if let CertList::Certs(certs) = &s.property.cert_list {
            o.insert(
                "signer_certs".into(),
                certs.iter().map(|c| cert_json(c)).collect(),
            );
        }
        o.insert("picture_bytes".into(), json!(s.picture.data.len()));
        o.insert("has_time_stamp".into(), json!(s.time_stamp.is_some()));
    }
    v
}

fn signature_json(s: &SesSignature) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("seal".into(), seal_json(&s.seal));
        o.insert("signer_cert".into(), cert_json(&s.signer_cert));
        o.insert("has_time_stamp".into(), json!(s.time_stamp.is_some()));
    }
    v
}

fn parsed_json(p: &Parsed) -> Value {
    match p {
        Parsed::Seal(s) => json!({ "kind": "seal", "seal": seal_json(s) }),
        Parsed::Signature(s) => json!({ "kind": "signature", "signature": signature_json(s) }),
    }
}

fn cert_line(label: &str, der: &[u8]) -> String {
    match ses::parse_certificate(der) {
        Ok(CertInfo {
            subject,
            issuer,
            serial,
            not_before,
            not_after,
            ..
        }) => format!(
            "{label}: {subject}\n      issuer {issuer}, serial {serial}, valid {} to {}",
            ses::time::format_rfc3339(not_before),
            ses::time::format_rfc3339(not_after)
        ),
        Err(e) => format!("{label}: unreadable ({e})"),
    }
}

fn seal_text(s: &Seal, indent: &str) -> String {
    let p = &s.property;
    let mut out = vec![
        format!(
            "{indent}layout: {:?} ({}), header ID {:?} version {} vendor {:?}",
            s.version,
            s.version.standard(),
            s.header.id,
            s.header.version,
            s.header.vid
        ),
        format!("{indent}esID: {}", s.es_id),
        format!("{indent}name: {} (type {})", p.name, p.seal_type),
        format!(
            "{indent}made {}, valid {} to {}",
            p.create_date.text, p.valid_start.text, p.valid_end.text
        ),
        format!(
            "{indent}picture: {} ({} bytes), {}×{} mm",
            s.picture.kind,
            s.picture.data.len(),
            s.picture.width_mm,
            s.picture.height_mm
        ),
    ];
    match &p.cert_list {
        CertList::Certs(certs) => {
            out.push(format!(
                "{indent}allowed signers: {} certificate(s)",
                certs.len()
            ));
            certs
                .iter()
                .for_each(|c| out.push(format!("{indent}  {}", cert_line("signer", c))));
        }
        CertList::Digests(d) => {
            out.push(format!(
                "{indent}allowed signers: {} certificate digest(s)",
                d.len()
            ));
            d.iter().for_each(|d| {
                out.push(format!(
                    "{indent}  {} {}",
                    d.kind,
                    d.value
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                ))
            });
        }
    }
    for e in &s.ext_datas {
        out.push(format!(
            "{indent}extension {} (critical {}): {}",
            e.oid,
            e.critical,
            String::from_utf8_lossy(&e.value)
        ));
    }
    out.push(format!("{indent}{}", cert_line("maker", &s.maker_cert)));
    out.push(format!(
        "{indent}maker signature: {} ({} bytes){}",
        s.sign_alg,
        s.signed_value.len(),
        if s.time_stamp.is_some() {
            ", with timestamp"
        } else {
            ""
        }
    ));
    out.join("\n")
}

fn parsed_text(p: &Parsed) -> String {
    match p {
        Parsed::Seal(s) => format!("{}\n{}", crate::version_words(p), seal_text(s, "  ")),
        Parsed::Signature(s) => format!(
            "{}\n  signed at {} (claimed)\n  propertyInfo: {}\n  dataHash: {}\n  {}\n  signature: {} ({} bytes){}\n  embedded seal:\n{}",
            crate::version_words(p),
            s.time_info,
            s.property_info,
            s.data_hash
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            cert_line("signer", &s.signer_cert),
            s.sign_alg,
            s.signature.len(),
            if s.time_stamp.is_some() {
                ", with timestamp"
            } else {
                ""
            },
            seal_text(&s.seal, "    ")
        ),
    }
}

pub(crate) fn run(io: &mut Io<'_>, file: &Path, json: bool) -> i32 {
    let data = match crate::read(file) {
        Ok(d) => d,
        Err(e) => return crate::fail(io, &e),
    };
    if ses::is_ofd(&data) {
        return ofd(io, file, &data, json);
    }
    match ses::parse(&data) {
        Ok(p) => {
            if json {
                say!(
                    io,
                    "{}",
                    serde_json::to_string_pretty(&parsed_json(&p)).unwrap_or_default()
                );
            } else {
                say!(io, "{}: {}", file.display(), parsed_text(&p));
            }
            0
        }
        Err(e) => crate::fail(io, &format!("{}: {e}", file.display())),
    }
}

fn ofd(io: &mut Io<'_>, file: &Path, data: &[u8], json: bool) -> i32 {
    let sigs = match ses::read_ofd(data) {
        Ok(s) => s,
        Err(e) => return crate::fail(io, &format!("{}: {e}", file.display())),
    };
    if json {
        let list: Vec<Value> = sigs
            .iter()
            .map(|s| {
                let content = ses::parse(&s.signed_value).map(|p| parsed_json(&p)).unwrap_or_else(|e| json!({ "kind": "other", "error": e.to_string() }));
                json!({
                    "id": s.id, "type": s.kind, "signature_xml": s.signature_xml_path, "signed_value": s.signed_value_path,
                    "check_method": s.check_method, "references": s.references.len(), "problem": s.problem, "content": content,
                })
            })
            .collect();
        say!(
            io,
            "{}",
            serde_json::to_string_pretty(&json!({ "kind": "ofd", "signatures": list }))
                .unwrap_or_default()
        );
    } else {
        say!(
            io,
            "{}: OFD package with {} signature(s)",
            file.display(),
            sigs.len()
        );
        for s in &sigs {
            say!(
                io,
                "signature {} (Type {}): {} → {}, {} reference(s) by {}",
                s.id,
                s.kind,
                s.signature_xml_path,
                s.signed_value_path,
                s.references.len(),
                s.check_method
            );
            if let Some(p) = &s.problem {
                say!(io, "  problem: {p}");
                continue;
            }
            match ses::parse(&s.signed_value) {
                Ok(p) => say!(io, "  {}", parsed_text(&p).replace('\n', "\n  ")),
                Err(e) => say!(io, "  not a seal signature ({e})"),
            }
        }
    }
    0
}
