//! Bytes to text: the encodings a daily report comes in (UTF-8 with or
//! without a byte-order mark, UTF-16 with one as Excel's "Unicode text"
//! writes, Windows-1252 when the mapping says so), and the delimiter,
//! detected from the header line when the mapping does not state it.

use crate::IngestError;
use std::borrow::Cow;

/// How a report's bytes are to be read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// UTF-8, or UTF-16 when the bytes begin with its byte-order mark.
    #[default]
    #[serde(alias = "utf8")]
    Utf8,
    /// Windows-1252 (what older Windows exports write), unless the bytes
    /// begin with a UTF-8 or UTF-16 byte-order mark.
    #[serde(alias = "cp1252", alias = "latin1")]
    Windows1252,
}

/// The report's text: `bytes` decoded by their byte-order mark when they
/// carry one, else as `encoding` says. A byte sequence that is not text in
/// that encoding (a spreadsheet, an image, a zip) is refused whole, never
/// read with replacement characters.
pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<Cow<'_, str>, IngestError> {
    let (coding, bom) = match encoding_rs::Encoding::for_bom(bytes) {
        Some((coding, bom)) => (coding, bom),
        None => match encoding {
            Encoding::Utf8 => (encoding_rs::UTF_8, 0),
            Encoding::Windows1252 => (encoding_rs::WINDOWS_1252, 0),
        },
    };
    let body = &bytes[bom..];
    let text = if coding == encoding_rs::UTF_8 {
        Cow::Borrowed(std::str::from_utf8(body).map_err(|e| IngestError::NotText {
            reason: format!(
                "byte {} is not UTF-8; if the report is a Windows export, set `encoding = \"windows-1252\"` in its mapping",
                e.valid_up_to() + bom + 1
            ),
        })?)
    } else {
        let (text, had_errors) = coding.decode_without_bom_handling(body);
        if had_errors {
            return Err(IngestError::NotText {
                reason: format!("it is not valid {}", coding.name()),
            });
        }
        text
    };
    // A NUL in text is a binary file that happened to decode.
    if text.contains('\0') {
        return Err(IngestError::NotText {
            reason: "it holds NUL bytes, as a binary file (a spreadsheet, an image, a zip) does; export the report as CSV".into(),
        });
    }
    Ok(text)
}

/// The delimiter of a header line: whichever of `,` `;` and tab occurs most
/// often outside quotes; `,` when none does (a one-column header).
pub fn detect_delimiter(text: &str) -> u8 {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let (mut commas, mut semicolons, mut tabs) = (0usize, 0usize, 0usize);
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            '\t' if !quoted => tabs += 1,
            _ => {}
        }
    }
    if tabs > commas && tabs >= semicolons {
        b'\t'
    } else if semicolons > commas {
        b';'
    } else {
        b','
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_order_marks_choose_the_encoding() {
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                "Account\tValue\r\nGard AS\t99,5\r\n"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        assert_eq!(
            decode(&utf16, Encoding::Utf8).unwrap(),
            "Account\tValue\r\nGard AS\t99,5\r\n"
        );
        let bom = b"\xEF\xBB\xBFAccount\n";
        assert_eq!(decode(bom, Encoding::Windows1252).unwrap(), "Account\n");
        assert_eq!(
            decode(b"Caf\xE9\n", Encoding::Windows1252).unwrap(),
            "Café\n"
        );
        let e = decode(b"Caf\xE9\n", Encoding::Utf8)
            .unwrap_err()
            .to_string();
        assert!(e.contains("byte 4") && e.contains("windows-1252"), "{e}");
        assert!(decode(b"PK\x03\x04\0\0", Encoding::Utf8).is_err());
    }

    #[test]
    fn the_header_line_tells_the_delimiter() {
        assert_eq!(
            detect_delimiter("Account,Metric Name,Current Value\n"),
            b','
        );
        assert_eq!(
            detect_delimiter("Account;Metric Name;Current Value\n1,5;2;3"),
            b';'
        );
        assert_eq!(
            detect_delimiter("Account\tMetric Name\tCurrent Value\n"),
            b'\t'
        );
        assert_eq!(detect_delimiter("\"Account; Name\",Metric\n"), b',');
        assert_eq!(detect_delimiter(""), b',');
    }
}
