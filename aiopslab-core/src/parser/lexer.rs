//! A tokenizer for the subset of Python that can appear in the arguments of an action call.
//!
//! It recognises every token kind of Python's expression grammar (so that unsupported
//! expressions are reported by their kind rather than as syntax errors) and decodes string,
//! bytes and number literals with Python's rules.

use super::error::ParseError;

/// The value of an integer literal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum IntLit {
    /// Fits in an `i128`.
    Small(i128),
    /// Larger than `i128`; kept as the nearest float.
    Big(f64),
}

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A string literal (after escape processing).
    Str(String),
    /// A bytes literal.
    Bytes(Vec<u8>),
    /// An f-string (its content is irrelevant: it is never a constant).
    FStr,
    /// An integer literal.
    Int(IntLit),
    /// A float literal.
    Float(f64),
    /// An imaginary literal (`1j`).
    Imag,
    /// An identifier or keyword.
    Name(String),
    /// An operator or delimiter.
    Op(&'static str),
}

/// A token with its character offset in the argument text (for messages).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub col: usize,
}

const OPS3: [&str; 5] = ["**=", "//=", ">>=", "<<=", "..."];
const OPS2: [&str; 19] = [
    "**", "//", "==", "!=", "<=", ">=", "<<", ">>", ":=", "->", "+=", "-=", "*=", "/=", "%=", "&=",
    "|=", "^=", "@=",
];
const OPS1: [&str; 23] = [
    "(", ")", "[", "]", "{", "}", ",", ":", ".", ";", "@", "=", "<", ">", "+", "-", "*", "/", "%",
    "~", "^", "|", "&",
];

/// Tokenizes `src` (the text between the parentheses of a call).
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut lx = Lexer { chars, i: 0 };
    let mut out = Vec::new();
    while let Some(t) = lx.next_token()? {
        out.push(t);
    }
    Ok(out)
}

struct Lexer {
    chars: Vec<char>,
    i: usize,
}

fn syntax(col: usize, what: impl Into<String>) -> ParseError {
    ParseError::syntax(col, what)
}

fn is_id_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_id_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl Lexer {
    fn peek(&self, off: usize) -> Option<char> {
        self.chars.get(self.i + off).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(k, c)| self.peek(k) == Some(c))
    }

    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\n' | '\r' | '\x0c' => self.i += 1,
                '#' => {
                    while let Some(c) = self.peek(0) {
                        if c == '\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                '\\' => match (self.peek(1), self.peek(2)) {
                    (Some('\n'), _) => self.i += 2,
                    (Some('\r'), Some('\n')) => self.i += 3,
                    _ => {
                        return Err(syntax(
                            self.i,
                            "unexpected character after line continuation character",
                        ));
                    }
                },
                _ => break,
            }
        }
        Ok(())
    }

    fn next_token(&mut self) -> Result<Option<Token>, ParseError> {
        self.skip_trivia()?;
        let col = self.i;
        let Some(c) = self.peek(0) else {
            return Ok(None);
        };
        let tok = if c.is_ascii_digit()
            || (c == '.' && self.peek(1).is_some_and(|d| d.is_ascii_digit()))
        {
            self.number()?
        } else if is_id_start(c) {
            let start = self.i;
            while self.peek(0).is_some_and(is_id_continue) {
                self.i += 1;
            }
            let word: String = self.chars[start..self.i].iter().collect();
            match self.peek(0) {
                Some('"' | '\'') if is_string_prefix(&word) => self.string(&word)?,
                _ => Tok::Name(word),
            }
        } else if c == '"' || c == '\'' {
            self.string("")?
        } else if let Some(op) = self.operator() {
            Tok::Op(op)
        } else {
            return Err(syntax(col, format!("invalid character `{c}`")));
        };
        Ok(Some(Token { tok, col }))
    }

    fn operator(&mut self) -> Option<&'static str> {
        for set in [&OPS3[..], &OPS2[..], &OPS1[..]] {
            if let Some(op) = set.iter().find(|op| self.starts_with(op)) {
                self.i += op.chars().count();
                return Some(op);
            }
        }
        None
    }

    /// Reads `digit (_? digit)*` for the given radix; returns the digits without underscores.
    fn digit_part(&mut self, radix: u32) -> String {
        let mut digits = String::new();
        while let Some(c) = self.peek(0) {
            if c.is_digit(radix) {
                digits.push(c);
                self.i += 1;
            } else if c == '_'
                && !digits.is_empty()
                && self.peek(1).is_some_and(|d| d.is_digit(radix))
            {
                self.i += 1;
            } else {
                break;
            }
        }
        digits
    }

    fn number(&mut self) -> Result<Tok, ParseError> {
        let col = self.i;
        let radix = match (self.peek(0), self.peek(1)) {
            (Some('0'), Some('x' | 'X')) => Some(16),
            (Some('0'), Some('o' | 'O')) => Some(8),
            (Some('0'), Some('b' | 'B')) => Some(2),
            _ => None,
        };
        let tok = if let Some(radix) = radix {
            self.i += 2;
            if self.peek(0) == Some('_') {
                self.i += 1;
            }
            let digits = self.digit_part(radix);
            if digits.is_empty() {
                return Err(syntax(col, "invalid number literal"));
            }
            Tok::Int(int_from_digits(&digits, radix))
        } else {
            let int_part = self.digit_part(10);
            let mut is_float = false;
            let mut text = int_part.clone();
            if self.peek(0) == Some('.') {
                self.i += 1;
                is_float = true;
                text.push('.');
                text.push_str(&self.digit_part(10));
            }
            if matches!(self.peek(0), Some('e' | 'E')) {
                let sign = matches!(self.peek(1), Some('+' | '-'));
                let digit_at = if sign { 2 } else { 1 };
                if self.peek(digit_at).is_some_and(|d| d.is_ascii_digit()) {
                    text.push('e');
                    if sign {
                        text.push(self.peek(1).unwrap_or('+'));
                    }
                    self.i += digit_at;
                    text.push_str(&self.digit_part(10));
                    is_float = true;
                } else {
                    return Err(syntax(col, "invalid decimal literal"));
                }
            }
            if matches!(self.peek(0), Some('j' | 'J')) {
                self.i += 1;
                Tok::Imag
            } else if is_float {
                let v: f64 = text
                    .parse()
                    .map_err(|_| syntax(col, "invalid decimal literal"))?;
                Tok::Float(v)
            } else {
                if int_part.len() > 1
                    && int_part.starts_with('0')
                    && int_part.chars().any(|d| d != '0')
                {
                    return Err(syntax(
                        col,
                        "leading zeros in decimal integer literals are not permitted",
                    ));
                }
                Tok::Int(int_from_digits(&int_part, 10))
            }
        };
        if self.peek(0).is_some_and(is_id_continue) {
            return Err(syntax(col, "invalid decimal literal"));
        }
        Ok(tok)
    }

    fn string(&mut self, prefix: &str) -> Result<Tok, ParseError> {
        let col = self.i - prefix.chars().count();
        let lower = prefix.to_ascii_lowercase();
        let raw = lower.contains('r');
        let bytes = lower.contains('b');
        let fstr = lower.contains('f') || lower.contains('t');
        let quote = self.peek(0).unwrap_or('"');
        let triple = self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        self.i += if triple { 3 } else { 1 };
        let mut body = String::new();
        loop {
            let Some(c) = self.peek(0) else {
                let what = if triple {
                    "unterminated triple-quoted string literal"
                } else {
                    "unterminated string literal"
                };
                return Err(syntax(col, what));
            };
            if c == quote
                && (!triple || (self.peek(1) == Some(quote) && self.peek(2) == Some(quote)))
            {
                self.i += if triple { 3 } else { 1 };
                break;
            }
            if c == '\n' && !triple {
                return Err(syntax(col, "unterminated string literal"));
            }
            if c == '\\' {
                // Keep the escape pair verbatim here; it is decoded below (or kept if raw).
                body.push(c);
                self.i += 1;
                if let Some(n) = self.peek(0) {
                    body.push(n);
                    self.i += 1;
                }
                continue;
            }
            body.push(c);
            self.i += 1;
        }
        if fstr {
            return Ok(Tok::FStr);
        }
        if bytes {
            if let Some(bad) = body.chars().find(|c| !c.is_ascii()) {
                return Err(syntax(
                    col,
                    format!("bytes can only contain ASCII literal characters, found `{bad}`"),
                ));
            }
            let decoded = if raw {
                body.into_bytes()
            } else {
                decode_bytes_escapes(&body)
            };
            return Ok(Tok::Bytes(decoded));
        }
        if raw {
            return Ok(Tok::Str(body));
        }
        decode_str_escapes(&body)
            .map(Tok::Str)
            .map_err(|e| syntax(col, e))
    }
}

fn is_string_prefix(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "r" | "u" | "b" | "f" | "t" | "br" | "rb" | "fr" | "rf" | "tr" | "rt"
    )
}

fn int_from_digits(digits: &str, radix: u32) -> IntLit {
    match i128::from_str_radix(digits, radix) {
        Ok(v) => IntLit::Small(v),
        Err(_) => {
            let mut f = 0f64;
            for d in digits.chars().filter_map(|c| c.to_digit(radix)) {
                f = f * f64::from(radix) + f64::from(d);
            }
            IntLit::Big(f)
        }
    }
}

/// Reads up to `max` digits of `radix` from `it`.
fn take_digits(chars: &[char], start: usize, max: usize, radix: u32) -> (u32, usize) {
    let mut v = 0u32;
    let mut n = 0;
    while n < max {
        match chars.get(start + n).and_then(|c| c.to_digit(radix)) {
            Some(d) => {
                v = v.saturating_mul(radix).saturating_add(d);
                n += 1;
            }
            None => break,
        }
    }
    (v, n)
}

/// Decodes the escapes of a non-raw `str` literal body.
fn decode_str_escapes(body: &str) -> Result<String, String> {
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::with_capacity(body.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(&e) = chars.get(i + 1) else {
            out.push('\\');
            break;
        };
        i += 2;
        match e {
            '\n' => {}
            '\r' => {
                if chars.get(i) == Some(&'\n') {
                    i += 1;
                }
            }
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '0'..='7' => {
                let (v, n) = take_digits(&chars, i - 1, 3, 8);
                i += n - 1;
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            'x' | 'u' | 'U' => {
                let want = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let (v, n) = take_digits(&chars, i, want, 16);
                if n != want {
                    return Err(format!(
                        "truncated \\{e} escape: expected {want} hex digits"
                    ));
                }
                i += n;
                if v > 0x10_ffff {
                    return Err(format!("illegal Unicode character in \\{e} escape"));
                }
                // Lone surrogates are valid in Python strings but not in Rust ones.
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            'N' => {
                return Err(
                    "\\N{...} escapes are not supported; write the character itself".into(),
                );
            }
            other => {
                // Python keeps unknown escapes as they are (with a warning).
                out.push('\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// Decodes the escapes of a non-raw `bytes` literal body (ASCII only).
fn decode_bytes_escapes(body: &str) -> Vec<u8> {
    let chars: Vec<char> = body.chars().collect();
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 >= chars.len() {
            out.push(c as u8);
            i += 1;
            continue;
        }
        let e = chars[i + 1];
        i += 2;
        match e {
            '\n' => {}
            '\\' => out.push(b'\\'),
            '\'' => out.push(b'\''),
            '"' => out.push(b'"'),
            'a' => out.push(7),
            'b' => out.push(8),
            'f' => out.push(12),
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            'v' => out.push(11),
            '0'..='7' => {
                let (v, n) = take_digits(&chars, i - 1, 3, 8);
                i += n - 1;
                out.push((v & 0xff) as u8);
            }
            'x' => {
                let (v, n) = take_digits(&chars, i, 2, 16);
                if n == 2 {
                    i += 2;
                    out.push(v as u8);
                } else {
                    out.extend_from_slice(b"\\x");
                }
            }
            other => {
                out.push(b'\\');
                out.push(other as u8);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Tok {
        let toks = tokenize(src).unwrap();
        assert_eq!(toks.len(), 1, "{toks:?}");
        toks[0].tok.clone()
    }

    #[test]
    fn numbers_follow_python_rules() {
        assert_eq!(one("10"), Tok::Int(IntLit::Small(10)));
        assert_eq!(one("1_000"), Tok::Int(IntLit::Small(1000)));
        assert_eq!(one("0x1F"), Tok::Int(IntLit::Small(31)));
        assert_eq!(one("0o17"), Tok::Int(IntLit::Small(15)));
        assert_eq!(one("0b101"), Tok::Int(IntLit::Small(5)));
        assert_eq!(one("000"), Tok::Int(IntLit::Small(0)));
        assert_eq!(one("1.5"), Tok::Float(1.5));
        assert_eq!(one(".5"), Tok::Float(0.5));
        assert_eq!(one("5."), Tok::Float(5.0));
        assert_eq!(one("1e3"), Tok::Float(1000.0));
        assert_eq!(one("1E-2"), Tok::Float(0.01));
        assert_eq!(one("2j"), Tok::Imag);
        assert!(tokenize("01").is_err());
        assert!(tokenize("1abc").is_err());
        assert!(tokenize("1e").is_err());
        assert!(matches!(
            one("123456789012345678901234567890123456789012"),
            Tok::Int(IntLit::Big(_))
        ));
    }

    #[test]
    fn strings_decode_escapes_and_prefixes() {
        assert_eq!(one(r#""a\nb""#), Tok::Str("a\nb".into()));
        assert_eq!(one(r#"'it\'s'"#), Tok::Str("it's".into()));
        assert_eq!(one(r#"r"a\nb""#), Tok::Str("a\\nb".into()));
        assert_eq!(one(r#"u"x""#), Tok::Str("x".into()));
        assert_eq!(
            one(r#""\x41\u00e9\U0001F600\101\d""#),
            Tok::Str("Aé😀A\\d".into())
        );
        assert_eq!(one("'''a\n'b'\n'''"), Tok::Str("a\n'b'\n".into()));
        assert_eq!(one(r#"b"a\x00""#), Tok::Bytes(vec![b'a', 0]));
        assert_eq!(one(r#"f"{x}""#), Tok::FStr);
        assert!(tokenize("'abc").is_err());
        assert!(tokenize("'a\nb'").is_err());
        assert!(tokenize(r#""\x4""#).is_err());
        assert!(tokenize("b'é'").is_err());
    }

    #[test]
    fn comments_and_continuations_are_skipped() {
        let toks = tokenize("1, # one\n 2 \\\n").unwrap();
        assert_eq!(toks.len(), 3);
    }
}
