//! The part of JavaScript that mongo shell scripts use: literals (strings, numbers, booleans,
//! `null`, objects with bare or quoted keys, arrays), variables (`var`/`let`/`const` and
//! assignment), member access, calls and comments. Statements end with `;`, or where the next
//! token cannot continue the expression (as automatic semicolon insertion does for these
//! scripts).

use std::fmt;

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub enum JsVal {
    /// `undefined`.
    Undefined,
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<JsVal>),
    /// An object (keys in order).
    Obj(Vec<(String, JsVal)>),
    /// A database handle.
    Db(String),
    /// A collection handle (database, collection).
    Coll(String, String),
    /// A named function or method (`print`, `db.createUser`), bound to its receiver.
    Func(Box<JsVal>, String),
}

impl JsVal {
    /// The value of a key of an object.
    pub fn get(&self, key: &str) -> Option<&JsVal> {
        match self {
            JsVal::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsVal::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Whether it is truthy.
    pub fn truthy(&self) -> bool {
        match self {
            JsVal::Undefined | JsVal::Null => false,
            JsVal::Bool(b) => *b,
            JsVal::Num(n) => *n != 0.0 && !n.is_nan(),
            JsVal::Str(s) => !s.is_empty(),
            _ => true,
        }
    }
}

/// A syntax error, as the shell reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError(pub String);

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SyntaxError: {}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(f64),
    Str(String),
    Punct(char),
}

fn tokenize(src: &str) -> Result<Vec<Tok>, SyntaxError> {
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' || c == '\'' || c == '`' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&ch) = chars.get(i) else {
                    return Err(SyntaxError("unterminated string literal".into()));
                };
                i += 1;
                if ch == quote {
                    break;
                }
                if ch == '\\' {
                    let Some(&e) = chars.get(i) else {
                        return Err(SyntaxError("unterminated string literal".into()));
                    };
                    i += 1;
                    s.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                } else {
                    s.push(ch);
                }
            }
            out.push(Tok::Str(s));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == 'e')
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n = text
                .parse::<f64>()
                .map_err(|_| SyntaxError(format!("malformed number {text}")))?;
            out.push(Tok::Num(n));
        } else if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if "{}[](),:;.=".contains(c) {
            out.push(Tok::Punct(c));
            i += 1;
        } else {
            return Err(SyntaxError(format!("illegal character {c:?}")));
        }
    }
    Ok(out)
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal value.
    Lit(JsVal),
    /// An object literal.
    Obj(Vec<(String, Expr)>),
    /// An array literal.
    Arr(Vec<Expr>),
    /// A name.
    Var(String),
    /// `a.b` / `a["b"]`.
    Member(Box<Expr>, String),
    /// `f(args)`.
    Call(Box<Expr>, Vec<Expr>),
    /// `x = e` (also `var x = e`).
    Assign(String, Box<Expr>),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), SyntaxError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(SyntaxError(match self.peek() {
                Some(t) => format!("missing {c} before {}", describe(t)),
                None => format!("missing {c} at end of input"),
            }))
        }
    }

    fn statement(&mut self) -> Result<Option<Expr>, SyntaxError> {
        while self.eat(';') {}
        if self.peek().is_none() {
            return Ok(None);
        }
        if let Some(Tok::Ident(kw)) = self.peek()
            && matches!(kw.as_str(), "var" | "let" | "const")
        {
            self.pos += 1;
            let Some(Tok::Ident(name)) = self.next() else {
                return Err(SyntaxError("missing variable name".into()));
            };
            let value = if self.eat('=') {
                self.expr()?
            } else {
                Expr::Lit(JsVal::Undefined)
            };
            self.eat(';');
            return Ok(Some(Expr::Assign(name, Box::new(value))));
        }
        let e = self.expr()?;
        let e = if self.eat('=') {
            let Expr::Var(name) = e else {
                return Err(SyntaxError("invalid assignment left-hand side".into()));
            };
            Expr::Assign(name, Box::new(self.expr()?))
        } else {
            e
        };
        self.eat(';');
        Ok(Some(e))
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        let mut e = self.primary()?;
        loop {
            if self.eat('.') {
                let Some(Tok::Ident(name)) = self.next() else {
                    return Err(SyntaxError("missing name after . operator".into()));
                };
                e = Expr::Member(Box::new(e), name);
            } else if self.peek() == Some(&Tok::Punct('[')) {
                self.pos += 1;
                let key = match self.next() {
                    Some(Tok::Str(s)) => s,
                    Some(Tok::Num(n)) => format!("{n}"),
                    _ => return Err(SyntaxError("unsupported computed member".into())),
                };
                self.expect(']')?;
                e = Expr::Member(Box::new(e), key);
            } else if self.eat('(') {
                let mut args = Vec::new();
                if !self.eat(')') {
                    loop {
                        args.push(self.expr()?);
                        if self.eat(')') {
                            break;
                        }
                        self.expect(',')?;
                        if self.eat(')') {
                            break;
                        }
                    }
                }
                e = Expr::Call(Box::new(e), args);
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        match self.next() {
            Some(Tok::Num(n)) => Ok(Expr::Lit(JsVal::Num(n))),
            Some(Tok::Str(s)) => Ok(Expr::Lit(JsVal::Str(s))),
            Some(Tok::Ident(id)) => Ok(match id.as_str() {
                "true" => Expr::Lit(JsVal::Bool(true)),
                "false" => Expr::Lit(JsVal::Bool(false)),
                "null" => Expr::Lit(JsVal::Null),
                "undefined" => Expr::Lit(JsVal::Undefined),
                "new" => return self.primary(),
                _ => Expr::Var(id),
            }),
            Some(Tok::Punct('{')) => {
                let mut fields = Vec::new();
                if !self.eat('}') {
                    loop {
                        let key = match self.next() {
                            Some(Tok::Ident(k)) | Some(Tok::Str(k)) => k,
                            Some(Tok::Num(n)) => format!("{n}"),
                            Some(t) => {
                                return Err(SyntaxError(format!(
                                    "missing name after {{ before {}",
                                    describe(&t)
                                )));
                            }
                            None => return Err(SyntaxError("missing } in object".into())),
                        };
                        self.expect(':')?;
                        fields.push((key, self.expr()?));
                        if self.eat('}') {
                            break;
                        }
                        self.expect(',')?;
                        if self.eat('}') {
                            break;
                        }
                    }
                }
                Ok(Expr::Obj(fields))
            }
            Some(Tok::Punct('[')) => {
                let mut items = Vec::new();
                if !self.eat(']') {
                    loop {
                        items.push(self.expr()?);
                        if self.eat(']') {
                            break;
                        }
                        self.expect(',')?;
                        if self.eat(']') {
                            break;
                        }
                    }
                }
                Ok(Expr::Arr(items))
            }
            Some(Tok::Punct('(')) => {
                let e = self.expr()?;
                self.expect(')')?;
                Ok(e)
            }
            Some(t) => Err(SyntaxError(format!(
                "expected expression, got {}",
                describe(&t)
            ))),
            None => Err(SyntaxError("expected expression, got end of script".into())),
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Num(n) => format!("{n}"),
        Tok::Str(s) => format!("string literal \"{s}\""),
        Tok::Punct(c) => format!("'{c}'"),
    }
}

/// Parses a script into statements.
pub fn parse(src: &str) -> Result<Vec<Expr>, SyntaxError> {
    let mut p = Parser {
        toks: tokenize(src)?,
        pos: 0,
    };
    let mut out = Vec::new();
    while let Some(e) = p.statement()? {
        out.push(e);
    }
    Ok(out)
}

/// Formats a number as the shell does (`1`, `0.5`).
pub fn num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn compact(v: &JsVal, legacy: bool) -> String {
    match v {
        JsVal::Undefined => "undefined".into(),
        JsVal::Null => "null".into(),
        JsVal::Bool(b) => b.to_string(),
        JsVal::Num(n) => num(*n),
        JsVal::Str(s) if legacy => quote(s),
        JsVal::Str(s) => format!("'{}'", s.replace('\'', "\\'")),
        JsVal::Arr(items) if items.is_empty() => "[ ]".into(),
        JsVal::Arr(items) => format!(
            "[ {} ]",
            items
                .iter()
                .map(|i| compact(i, legacy))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        JsVal::Obj(fields) if fields.is_empty() => "{ }".into(),
        JsVal::Obj(fields) => format!(
            "{{ {} }}",
            fields
                .iter()
                .map(|(k, v)| if legacy {
                    format!("{} : {}", quote(k), compact(v, legacy))
                } else {
                    format!("{}: {}", mongosh_key(k), compact(v, legacy))
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        JsVal::Db(name) => name.clone(),
        JsVal::Coll(db, c) => format!("{db}.{c}"),
        JsVal::Func(_, name) => format!("function {name}() {{ [native code] }}"),
    }
}

fn mongosh_key(k: &str) -> String {
    if k.chars().all(|c| c.is_alphanumeric() || c == '_') && !k.is_empty() {
        k.to_string()
    } else {
        format!("'{k}'")
    }
}

/// Formats a value as the legacy shell's `tojson` (`{ "ok" : 1 }`, tab-indented when long)
/// or as mongosh's inspector (`{ ok: 1 }`, two spaces).
pub fn to_json(v: &JsVal, legacy: bool) -> String {
    pretty(v, 0, legacy)
}

/// Whether the legacy shell keeps a value on one line: no object nested in an array or
/// object.
fn flat(v: &JsVal) -> bool {
    let scalar = |v: &JsVal| !matches!(v, JsVal::Obj(_) | JsVal::Arr(_));
    match v {
        JsVal::Arr(items) => items.iter().all(scalar),
        JsVal::Obj(fields) => fields.iter().all(|(_, v)| match v {
            JsVal::Arr(items) => items.iter().all(scalar),
            other => scalar(other),
        }),
        _ => true,
    }
}

fn pretty(v: &JsVal, depth: usize, legacy: bool) -> String {
    let c = compact(v, legacy);
    let limit = if legacy { 80 } else { 72 };
    // The legacy shell keeps arrays of scalars and small flat top-level objects on one line.
    let one_line = if legacy {
        flat(v) && (depth == 0 || matches!(v, JsVal::Arr(_)))
    } else {
        true
    };
    if c.len() + depth * 8 <= limit && one_line {
        return c;
    }
    let (ind, ind_in) = if legacy {
        ("\t".repeat(depth), "\t".repeat(depth + 1))
    } else {
        ("  ".repeat(depth), "  ".repeat(depth + 1))
    };
    match v {
        JsVal::Arr(items) => {
            let inner: Vec<String> = items
                .iter()
                .map(|i| format!("{ind_in}{}", pretty(i, depth + 1, legacy)))
                .collect();
            format!("[\n{}\n{ind}]", inner.join(",\n"))
        }
        JsVal::Obj(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|(k, val)| {
                    if legacy {
                        format!("{ind_in}{} : {}", quote(k), pretty(val, depth + 1, legacy))
                    } else {
                        format!(
                            "{ind_in}{}: {}",
                            mongosh_key(k),
                            pretty(val, depth + 1, legacy)
                        )
                    }
                })
                .collect();
            format!("{{\n{}\n{ind}}}", inner.join(",\n"))
        }
        _ => c,
    }
}

/// Converts a JSON value to a shell value.
pub fn from_json(v: &serde_json::Value) -> JsVal {
    use serde_json::Value;
    match v {
        Value::Null => JsVal::Null,
        Value::Bool(b) => JsVal::Bool(*b),
        Value::Number(n) => JsVal::Num(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JsVal::Str(s.clone()),
        Value::Array(a) => JsVal::Arr(a.iter().map(from_json).collect()),
        Value::Object(m) => JsVal::Obj(m.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_scripts_statements() {
        let src = "db.createUser({user: 'admin', pwd: 'admin', roles: [{role: 'userAdminAnyDatabase', db: 'admin'}]});";
        let stmts = parse(src).unwrap();
        assert_eq!(stmts.len(), 1);
        let Expr::Call(f, args) = &stmts[0] else {
            panic!("{stmts:?}")
        };
        assert_eq!(
            **f,
            Expr::Member(Box::new(Expr::Var("db".into())), "createUser".into())
        );
        assert!(matches!(&args[0], Expr::Obj(fields) if fields.len() == 3));
        // Statements without semicolons, comments, var, trailing commas.
        let stmts = parse(
            "// c\nvar x = db.getSiblingDB(\"geo-db\")\nx.getUsers()\n/* c */ print(1, [1,2,],)",
        )
        .unwrap();
        assert_eq!(stmts.len(), 3);
        assert!(parse("db.createUser({user: }").is_err());
        assert!(parse("'unterminated").is_err());
    }

    #[test]
    fn formats_like_the_shells() {
        let v = JsVal::Obj(vec![("ok".into(), JsVal::Num(1.0))]);
        assert_eq!(to_json(&v, true), "{ \"ok\" : 1 }");
        assert_eq!(to_json(&v, false), "{ ok: 1 }");
        let user = JsVal::Obj(vec![
            ("user".into(), JsVal::Str("admin".into())),
            (
                "roles".into(),
                JsVal::Arr(vec![JsVal::Obj(vec![
                    ("role".into(), JsVal::Str("userAdminAnyDatabase".into())),
                    ("db".into(), JsVal::Str("admin".into())),
                ])]),
            ),
        ]);
        let text = to_json(&user, true);
        assert!(
            text.starts_with("{\n\t\"user\" : \"admin\",\n\t\"roles\" : ["),
            "{text}"
        );
    }
}
