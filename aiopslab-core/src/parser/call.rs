//! Parsing the arguments of a call as AIOpsLab does with `ast.parse(f"func({args})")`, and
//! turning them into JSON values.
//!
//! The parser understands the whole Python expression grammar well enough to tell a literal
//! from any other kind of expression; only literals become values, everything else is
//! reported as `Unsupported AST node type` with the Python class name, like AIOpsLab.

use serde_json::{Map, Number, Value};

use super::error::ParseError;
use super::lexer::{IntLit, Tok, Token, tokenize};

/// A parsed expression: literals in full, other kinds by their Python class name only.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Str(String),
    Bytes(Vec<u8>),
    Int(IntLit),
    Float(f64),
    Bool(bool),
    None,
    Ellipsis,
    Complex,
    List(Vec<Node>),
    Tuple(Vec<Node>),
    /// Items of a dict display; a `None` key is a `**mapping` entry.
    Dict(Vec<(Option<Node>, Node)>),
    Name(String),
    UnaryOp(&'static str, Box<Node>),
    /// Any other expression, by its Python AST class (`ast.BinOp`, `ast.Call`, ...).
    Other(&'static str),
}

/// The positional and keyword arguments of one call.
pub(crate) type CallArgs = (Vec<Value>, Map<String, Value>);

/// Parses `args` as the inside of `func(...)` and evaluates the arguments.
pub(crate) fn parse_call_args(args: &str) -> Result<CallArgs, ParseError> {
    let toks = tokenize(args)?;
    let mut p = Parser {
        toks,
        i: 0,
        depth: 0,
    };
    let (positional, keywords) = p.call_arguments()?;
    let mut out_args = Vec::with_capacity(positional.len());
    for node in &positional {
        out_args.push(eval(node)?);
    }
    let mut out_kwargs = Map::new();
    for (name, node) in &keywords {
        match name {
            Some(name) => {
                out_kwargs.insert(name.clone(), eval(node)?);
            }
            None => {
                return Err(ParseError::invalid(
                    "`**` unpacking is not supported in an action call; pass each keyword argument as name=value",
                ));
            }
        }
    }
    Ok((out_args, out_kwargs))
}

const KEYWORDS: [&str; 32] = [
    "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif",
    "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
    "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

/// How many levels of nested brackets an argument may have (Python's own parser stops at
/// 200); far more than any answer needs, while keeping the stack small.
const MAX_BRACKETS: usize = 50;

/// The recursion budget: each bracket level takes two steps, plus two for the outermost value.
const MAX_DEPTH: usize = 2 * (MAX_BRACKETS + 1);

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

type PResult<T> = Result<T, ParseError>;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.tok)
    }

    fn peek_at(&self, off: usize) -> Option<&Tok> {
        self.toks.get(self.i + off).map(|t| &t.tok)
    }

    fn col(&self) -> usize {
        self.toks
            .get(self.i)
            .or_else(|| self.toks.last())
            .map_or(0, |t| t.col)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(n)) if n == kw)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, op: &str) -> PResult<()> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("expected `{op}`")))
        }
    }

    fn unexpected(&self, expected: &str) -> ParseError {
        let found = match self.peek() {
            None => "the end of the arguments".to_string(),
            Some(Tok::Op(o)) => format!("`{o}`"),
            Some(Tok::Name(n)) => format!("`{n}`"),
            Some(_) => "a literal".to_string(),
        };
        ParseError::syntax(self.col(), format!("{expected}, found {found}"))
    }

    /// The argument list of the outer call, up to the end of the text (which stands for the
    /// closing parenthesis of `func(`).
    #[allow(clippy::type_complexity)]
    fn call_arguments(&mut self) -> PResult<(Vec<Node>, Vec<(Option<String>, Node)>)> {
        let mut positional = Vec::new();
        let mut keywords: Vec<(Option<String>, Node)> = Vec::new();
        loop {
            if self.peek().is_none() {
                break;
            }
            if self.is_op(")") {
                // `func(args) # comment)`: Python's comment swallows the appended `)`.
                if self.peek_at(1).is_none() {
                    break;
                }
                return Err(ParseError::invalid(format!(
                    "unmatched `)` at character {} of the arguments: the code block must hold exactly one call, like api_name(arg1, arg2); respond with a single API call per turn",
                    self.col() + 1
                )));
            }
            if self.eat_op("**") {
                let value = self.test()?;
                keywords.push((None, value));
            } else if self.eat_op("*") {
                self.test()?;
                if keywords.iter().any(|(k, _)| k.is_none()) {
                    return Err(ParseError::syntax(
                        self.col(),
                        "iterable argument unpacking follows keyword argument unpacking",
                    ));
                }
                positional.push(Node::Other("ast.Starred"));
            } else if let (Some(Tok::Name(name)), Some(Tok::Op("="))) =
                (self.peek(), self.peek_at(1))
            {
                let name = name.clone();
                let col = self.col();
                if KEYWORDS.contains(&name.as_str())
                    || matches!(name.as_str(), "True" | "False" | "None")
                {
                    return Err(ParseError::syntax(
                        col,
                        format!("cannot assign to `{name}`"),
                    ));
                }
                self.i += 2;
                // Python's `ast.parse` accepts a repeated keyword (only the compiler rejects
                // it); AIOpsLab then keeps the last value.
                let value = self.test()?;
                keywords.push((Some(name), value));
            } else {
                let col = self.col();
                let value = self.test()?;
                if self.is_kw("for") {
                    return Err(ParseError::unsupported("ast.GeneratorExp"));
                }
                if keywords.iter().any(|(k, _)| k.is_none()) {
                    return Err(ParseError::syntax(
                        col,
                        "positional argument follows keyword argument unpacking",
                    ));
                }
                if !keywords.is_empty() {
                    return Err(ParseError::syntax(
                        col,
                        "positional argument follows keyword argument",
                    ));
                }
                positional.push(value);
            }
            if self.eat_op(",") {
                continue;
            }
            if self.peek().is_none() || self.is_op(")") {
                continue;
            }
            return Err(self.unexpected("expected `,` or the end of the arguments"));
        }
        Ok((positional, keywords))
    }

    /// `test`: conditional expressions, lambdas and named expressions.
    fn test(&mut self) -> PResult<Node> {
        if self.is_kw("lambda") {
            self.i += 1;
            let mut depth = 0usize;
            loop {
                match self.peek() {
                    None => return Err(self.unexpected("expected `:` in lambda")),
                    Some(Tok::Op("(" | "[" | "{")) => depth += 1,
                    Some(Tok::Op(")" | "]" | "}")) => depth = depth.saturating_sub(1),
                    Some(Tok::Op(":")) if depth == 0 => break,
                    _ => {}
                }
                self.i += 1;
            }
            self.i += 1;
            self.test()?;
            return Ok(Node::Other("ast.Lambda"));
        }
        let e = self.or_test()?;
        if self.is_kw("if") {
            self.i += 1;
            self.or_test()?;
            if !self.is_kw("else") {
                return Err(self.unexpected("expected `else`"));
            }
            self.i += 1;
            self.test()?;
            return Ok(Node::Other("ast.IfExp"));
        }
        if self.is_op(":=") {
            if !matches!(e, Node::Name(_)) {
                return Err(ParseError::syntax(
                    self.col(),
                    "cannot use assignment expressions here",
                ));
            }
            self.i += 1;
            self.test()?;
            return Ok(Node::Other("ast.NamedExpr"));
        }
        Ok(e)
    }

    fn or_test(&mut self) -> PResult<Node> {
        let mut e = self.and_test()?;
        while self.is_kw("or") {
            self.i += 1;
            self.and_test()?;
            e = Node::Other("ast.BoolOp");
        }
        Ok(e)
    }

    fn and_test(&mut self) -> PResult<Node> {
        let mut e = self.not_test()?;
        while self.is_kw("and") {
            self.i += 1;
            self.not_test()?;
            e = Node::Other("ast.BoolOp");
        }
        Ok(e)
    }

    /// Runs `f` one nesting level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested(&mut self, f: impl FnOnce(&mut Self) -> PResult<Node>) -> PResult<Node> {
        if self.depth >= MAX_DEPTH {
            return Err(ParseError::syntax(
                self.col(),
                format!(
                    "the arguments are nested too deeply (more than {MAX_BRACKETS} levels of brackets)"
                ),
            ));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn not_test(&mut self) -> PResult<Node> {
        self.nested(Self::not_test_inner)
    }

    fn not_test_inner(&mut self) -> PResult<Node> {
        if self.is_kw("not") {
            self.i += 1;
            let operand = self.not_test()?;
            return Ok(Node::UnaryOp("not", Box::new(operand)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> PResult<Node> {
        let mut e = self.binary(0)?;
        loop {
            let is_cmp = matches!(
                self.peek(),
                Some(Tok::Op("<" | ">" | "==" | ">=" | "<=" | "!="))
            ) || self.is_kw("in")
                || self.is_kw("is")
                || (self.is_kw("not")
                    && matches!(self.peek_at(1), Some(Tok::Name(n)) if n == "in"));
            if !is_cmp {
                break;
            }
            if self.is_kw("not") {
                self.i += 2;
            } else if self.is_kw("is") {
                self.i += 1;
                if self.is_kw("not") {
                    self.i += 1;
                }
            } else {
                self.i += 1;
            }
            self.binary(0)?;
            e = Node::Other("ast.Compare");
        }
        Ok(e)
    }

    fn binop_prec(&self) -> Option<u8> {
        match self.peek() {
            Some(Tok::Op("|")) => Some(1),
            Some(Tok::Op("^")) => Some(2),
            Some(Tok::Op("&")) => Some(3),
            Some(Tok::Op("<<" | ">>")) => Some(4),
            Some(Tok::Op("+" | "-")) => Some(5),
            Some(Tok::Op("*" | "/" | "//" | "%" | "@")) => Some(6),
            _ => None,
        }
    }

    fn binary(&mut self, min_prec: u8) -> PResult<Node> {
        let mut lhs = self.unary()?;
        while let Some(prec) = self.binop_prec() {
            if prec < min_prec {
                break;
            }
            self.i += 1;
            self.binary(prec + 1)?;
            lhs = Node::Other("ast.BinOp");
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Node> {
        self.nested(Self::unary_inner)
    }

    fn unary_inner(&mut self) -> PResult<Node> {
        let op = match self.peek() {
            Some(Tok::Op("-")) => Some("-"),
            Some(Tok::Op("+")) => Some("+"),
            Some(Tok::Op("~")) => Some("~"),
            _ => None,
        };
        if let Some(op) = op {
            self.i += 1;
            let operand = self.unary()?;
            return Ok(Node::UnaryOp(op, Box::new(operand)));
        }
        self.power()
    }

    fn power(&mut self) -> PResult<Node> {
        let e = self.primary()?;
        if self.eat_op("**") {
            self.unary()?;
            return Ok(Node::Other("ast.BinOp"));
        }
        Ok(e)
    }

    fn primary(&mut self) -> PResult<Node> {
        let mut e = self.atom()?;
        loop {
            if self.eat_op("(") {
                self.skip_balanced(")")?;
                e = Node::Other("ast.Call");
            } else if self.eat_op("[") {
                self.skip_balanced("]")?;
                e = Node::Other("ast.Subscript");
            } else if self.eat_op(".") {
                match self.peek() {
                    Some(Tok::Name(_)) => self.i += 1,
                    _ => return Err(self.unexpected("expected an attribute name")),
                }
                e = Node::Other("ast.Attribute");
            } else {
                return Ok(e);
            }
        }
    }

    /// Skips tokens up to and including the `close` that balances an already consumed opener.
    fn skip_balanced(&mut self, close: &str) -> PResult<()> {
        let mut stack: Vec<&str> = vec![close];
        while let Some(tok) = self.peek() {
            match tok {
                Tok::Op("(") => stack.push(")"),
                Tok::Op("[") => stack.push("]"),
                Tok::Op("{") => stack.push("}"),
                Tok::Op(c @ (")" | "]" | "}")) => {
                    if stack.last() != Some(c) {
                        return Err(ParseError::syntax(self.col(), format!("unmatched `{c}`")));
                    }
                    stack.pop();
                    if stack.is_empty() {
                        self.i += 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        Err(ParseError::syntax(
            self.col(),
            format!("`{close}` was never closed"),
        ))
    }

    fn atom(&mut self) -> PResult<Node> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.unexpected("expected a value"));
        };
        match tok {
            Tok::Str(_) | Tok::Bytes(_) | Tok::FStr => self.strings(),
            Tok::Int(v) => {
                self.i += 1;
                Ok(Node::Int(v))
            }
            Tok::Float(v) => {
                self.i += 1;
                Ok(Node::Float(v))
            }
            Tok::Imag => {
                self.i += 1;
                Ok(Node::Complex)
            }
            Tok::Name(name) => {
                let node = match name.as_str() {
                    "True" => Node::Bool(true),
                    "False" => Node::Bool(false),
                    "None" => Node::None,
                    n if KEYWORDS.contains(&n) => {
                        return Err(self.unexpected("expected a value"));
                    }
                    _ => Node::Name(name.clone()),
                };
                self.i += 1;
                Ok(node)
            }
            Tok::Op("...") => {
                self.i += 1;
                Ok(Node::Ellipsis)
            }
            Tok::Op("(") => {
                self.i += 1;
                self.paren()
            }
            Tok::Op("[") => {
                self.i += 1;
                let items = self.sequence("]")?;
                Ok(items.map_or(Node::Other("ast.ListComp"), Node::List))
            }
            Tok::Op("{") => {
                self.i += 1;
                self.brace()
            }
            Tok::Op(_) => Err(self.unexpected("expected a value")),
        }
    }

    /// Adjacent string literals, concatenated as Python does.
    fn strings(&mut self) -> PResult<Node> {
        let col = self.col();
        let (mut text, mut bytes, mut has_str, mut has_bytes, mut fstr) =
            (String::new(), Vec::new(), false, false, false);
        while let Some(tok) = self.peek() {
            match tok {
                Tok::Str(s) => {
                    text.push_str(s);
                    has_str = true;
                }
                Tok::Bytes(b) => {
                    bytes.extend_from_slice(b);
                    has_bytes = true;
                }
                Tok::FStr => fstr = true,
                _ => break,
            }
            self.i += 1;
        }
        if has_bytes && (has_str || fstr) {
            return Err(ParseError::syntax(
                col,
                "cannot mix bytes and nonbytes literals",
            ));
        }
        Ok(if fstr {
            Node::Other("ast.JoinedStr")
        } else if has_bytes {
            Node::Bytes(bytes)
        } else {
            Node::Str(text)
        })
    }

    /// An element of a list, tuple or set display (which may be starred).
    fn element(&mut self) -> PResult<Node> {
        if self.eat_op("*") {
            self.binary(0)?;
            return Ok(Node::Other("ast.Starred"));
        }
        self.test()
    }

    /// Elements up to `close`; `None` if it is a comprehension (skipped to `close`).
    fn sequence(&mut self, close: &str) -> PResult<Option<Vec<Node>>> {
        let mut items = Vec::new();
        loop {
            if self.eat_op(close) {
                return Ok(Some(items));
            }
            items.push(self.element()?);
            if items.len() == 1 && (self.is_kw("for") || self.is_kw("async")) {
                self.skip_balanced(close)?;
                return Ok(None);
            }
            if !self.eat_op(",") {
                self.expect_op(close)?;
                return Ok(Some(items));
            }
        }
    }

    /// After `(`: an empty tuple, a parenthesised expression, a tuple or a generator.
    fn paren(&mut self) -> PResult<Node> {
        if self.eat_op(")") {
            return Ok(Node::Tuple(Vec::new()));
        }
        let first = self.element()?;
        if self.is_kw("for") || self.is_kw("async") {
            self.skip_balanced(")")?;
            return Ok(Node::Other("ast.GeneratorExp"));
        }
        if self.eat_op(")") {
            if matches!(first, Node::Other("ast.Starred")) {
                return Err(ParseError::syntax(
                    self.col(),
                    "cannot use starred expression here",
                ));
            }
            return Ok(first);
        }
        self.expect_op(",")?;
        let mut items = vec![first];
        match self.sequence(")")? {
            Some(rest) => items.extend(rest),
            None => return Err(ParseError::syntax(self.col(), "invalid syntax")),
        }
        Ok(Node::Tuple(items))
    }

    /// After `{`: a dict, a set, or a comprehension of either.
    fn brace(&mut self) -> PResult<Node> {
        if self.eat_op("}") {
            return Ok(Node::Dict(Vec::new()));
        }
        let first = if self.is_op("**") {
            self.dict_item()?
        } else {
            let key = self.element()?;
            if !self.eat_op(":") {
                return self.set_rest();
            }
            (Some(key), self.test()?)
        };
        if first.0.is_some() && (self.is_kw("for") || self.is_kw("async")) {
            self.skip_balanced("}")?;
            return Ok(Node::Other("ast.DictComp"));
        }
        let mut items = vec![first];
        loop {
            if !self.eat_op(",") {
                self.expect_op("}")?;
                break;
            }
            if self.eat_op("}") {
                break;
            }
            items.push(self.dict_item()?);
        }
        Ok(Node::Dict(items))
    }

    /// One `key: value` or `**mapping` entry of a dict display.
    fn dict_item(&mut self) -> PResult<(Option<Node>, Node)> {
        if self.eat_op("**") {
            self.binary(0)?;
            return Ok((None, Node::Other("ast.Name")));
        }
        let key = self.test()?;
        self.expect_op(":")?;
        Ok((Some(key), self.test()?))
    }

    /// The rest of a set display (or set comprehension) after its first element.
    fn set_rest(&mut self) -> PResult<Node> {
        if self.is_kw("for") || self.is_kw("async") {
            self.skip_balanced("}")?;
            return Ok(Node::Other("ast.SetComp"));
        }
        if !self.eat_op(",") {
            self.expect_op("}")?;
            return Ok(Node::Other("ast.Set"));
        }
        if self.sequence("}")?.is_none() {
            return Err(ParseError::syntax(self.col(), "invalid syntax"));
        }
        Ok(Node::Other("ast.Set"))
    }
}

/// Evaluates a node to JSON, following AIOpsLab's `eval_ast_node` plus our extensions
/// (tuples anywhere, signed numbers).
fn eval(node: &Node) -> Result<Value, ParseError> {
    match node {
        Node::Str(s) => Ok(Value::String(s.clone())),
        Node::Bytes(b) => Ok(Value::String(String::from_utf8_lossy(b).into_owned())),
        Node::Int(i) => Ok(int_value(*i)),
        Node::Float(f) => float_value(*f),
        Node::Bool(b) => Ok(Value::Bool(*b)),
        Node::None => Ok(Value::Null),
        Node::Ellipsis => Err(ParseError::invalid(
            "`...` (Ellipsis) is not a value an action accepts; write the actual value",
        )),
        Node::Complex => Err(ParseError::invalid(
            "complex numbers (like `1j`) are not supported in action arguments",
        )),
        Node::List(items) | Node::Tuple(items) => items
            .iter()
            .map(eval)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Node::Dict(items) => {
            let mut map = Map::new();
            // Python compares keys by value (`1 == 1.0 == True`): a later equal key keeps the
            // first key's spelling and replaces the value.
            let mut seen: Vec<(Value, String)> = Vec::new();
            for (key, value) in items {
                let Some(key) = key else {
                    return Err(ParseError::unsupported("NoneType"));
                };
                let key = eval(key)?;
                let value = eval(value)?;
                let name = match seen.iter().find(|(k, _)| py_key_eq(k, &key)) {
                    Some((_, name)) => name.clone(),
                    None => {
                        let name = dict_key(key.clone())?;
                        seen.push((key, name.clone()));
                        name
                    }
                };
                map.insert(name, value);
            }
            Ok(Value::Object(map))
        }
        Node::Name(_) => Err(ParseError::unsupported("ast.Name")),
        Node::UnaryOp(op, operand) => signed_number(op, operand),
        Node::Other(kind) => Err(ParseError::unsupported(kind)),
    }
}

/// `-1`, `+2.5`, `--3`: numbers with signs (AIOpsLab rejects these as `ast.UnaryOp`).
fn signed_number(op: &str, operand: &Node) -> Result<Value, ParseError> {
    let inner = match operand {
        Node::Int(i) => Some(Signed::Int(*i)),
        Node::Float(f) => Some(Signed::Float(*f)),
        Node::UnaryOp(inner_op, inner_operand) if matches!(*inner_op, "-" | "+") => {
            match signed_number(inner_op, inner_operand) {
                Ok(Value::Number(n)) => n
                    .as_i64()
                    .map(|v| Signed::Int(IntLit::Small(i128::from(v))))
                    .or_else(|| {
                        n.as_u64()
                            .map(|v| Signed::Int(IntLit::Small(i128::from(v))))
                    })
                    .or_else(|| n.as_f64().map(Signed::Float)),
                _ => None,
            }
        }
        _ => None,
    };
    let negate = op == "-";
    match (op, inner) {
        ("-" | "+", Some(Signed::Int(IntLit::Small(v)))) => {
            Ok(int_value(IntLit::Small(if negate { -v } else { v })))
        }
        ("-" | "+", Some(Signed::Int(IntLit::Big(v)))) => float_value(if negate { -v } else { v }),
        ("-" | "+", Some(Signed::Float(v))) => float_value(if negate { -v } else { v }),
        _ => Err(ParseError::unsupported("ast.UnaryOp")),
    }
}

enum Signed {
    Int(IntLit),
    Float(f64),
}

fn int_value(i: IntLit) -> Value {
    match i {
        IntLit::Small(v) => {
            if let Ok(v) = i64::try_from(v) {
                Value::Number(v.into())
            } else if let Ok(v) = u64::try_from(v) {
                Value::Number(v.into())
            } else {
                Number::from_f64(v as f64).map_or(Value::Null, Value::Number)
            }
        }
        IntLit::Big(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
    }
}

fn float_value(f: f64) -> Result<Value, ParseError> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| ParseError::invalid("a number in the arguments is too large to represent"))
}

/// Python's `==` on two dict keys: numbers and bools compare by value, other kinds by
/// kind and content.
fn py_key_eq(a: &Value, b: &Value) -> bool {
    let num = |v: &Value| match v {
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => match (
            a.as_i64().or(a.as_bool().map(i64::from)),
            b.as_i64().or(b.as_bool().map(i64::from)),
        ) {
            (Some(i), Some(j)) => i == j,
            _ => x == y,
        },
        (None, None) => a == b,
        _ => false,
    }
}

/// A JSON object key for a Python dict key, as `json.dumps` would write it.
fn dict_key(key: Value) -> Result<String, ParseError> {
    match key {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok("null".to_string()),
        Value::Array(_) => Err(ParseError::invalid("unhashable type: 'list'")),
        Value::Object(_) => Err(ParseError::invalid("unhashable type: 'dict'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(src: &str) -> (Vec<Value>, Map<String, Value>) {
        parse_call_args(src).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn unsupported(src: &str) -> String {
        match parse_call_args(src) {
            Err(ParseError::UnsupportedNode { node }) => node,
            other => panic!("{src}: {other:?}"),
        }
    }

    #[test]
    fn literals_become_json() {
        let (a, k) =
            ok("10, 'error', 1.5, True, False, None, [1, [2]], (3, 4), {'a': {'b': [None]}}");
        assert_eq!(
            Value::Array(a),
            json!([10, "error", 1.5, true, false, null, [1, [2]], [3, 4], {"a": {"b": [null]}}])
        );
        assert!(k.is_empty());
        let (a, k) = ok("'x', key=[1, 2], other={'k': 'v'},");
        assert_eq!(a, vec![json!("x")]);
        assert_eq!(
            Value::Object(k),
            json!({"key": [1, 2], "other": {"k": "v"}})
        );
    }

    #[test]
    fn signed_numbers_and_concatenation() {
        assert_eq!(
            ok("-1, +2, -2.5, --3").0,
            vec![json!(-1), json!(2), json!(-2.5), json!(3)]
        );
        assert_eq!(ok("'a' \"b\" '''c'''").0, vec![json!("abc")]);
        assert_eq!(ok("b'ab' b'c'").0, vec![json!("abc")]);
        assert_eq!(
            ok("{1: 'a', False: 'b', None: 'c', 2.5: 'd'}").0,
            vec![json!({"1": "a", "false": "b", "null": "c", "2.5": "d"})]
        );
    }

    #[test]
    fn python_key_equality_and_repeated_keywords() {
        // 1 == True == 1.0: the first spelling stays, the last value wins (json.dumps order).
        assert_eq!(
            ok("{True: 'a', 'k': 0, 1: 'b', 1.0: 'c', '1': 'd'}").0,
            vec![json!({"true": "c", "k": 0, "1": "d"})]
        );
        assert_eq!(ok("{0: 'a', False: 'b'}").0, vec![json!({"0": "b"})]);
        // ast.parse accepts a repeated keyword; the last value is kept in the first position.
        let (_, k) = ok("a=1, b=2, a=3");
        assert_eq!(Value::Object(k), json!({"a": 3, "b": 2}));
    }

    #[test]
    fn multi_line_arguments_with_comments() {
        let (a, _) = ok("[\n  'a',  # first\n  'b',\n]");
        assert_eq!(a, vec![json!(["a", "b"])]);
    }

    #[test]
    fn unsupported_nodes_are_named_like_python() {
        assert_eq!(unsupported("Yes"), "ast.Name");
        assert_eq!(unsupported("-x"), "ast.UnaryOp");
        assert_eq!(unsupported("not True"), "ast.UnaryOp");
        assert_eq!(unsupported("1 + 2"), "ast.BinOp");
        assert_eq!(unsupported("'a' * 3"), "ast.BinOp");
        assert_eq!(unsupported("f'{x}'"), "ast.JoinedStr");
        assert_eq!(unsupported("{1, 2}"), "ast.Set");
        assert_eq!(unsupported("len(x)"), "ast.Call");
        assert_eq!(unsupported("a.b"), "ast.Attribute");
        assert_eq!(unsupported("a[0]"), "ast.Subscript");
        assert_eq!(unsupported("[x for x in y]"), "ast.ListComp");
        assert_eq!(unsupported("{k: v for k in y}"), "ast.DictComp");
        assert_eq!(unsupported("1 if a else 2"), "ast.IfExp");
        assert_eq!(unsupported("a < b"), "ast.Compare");
        assert_eq!(unsupported("a and b"), "ast.BoolOp");
        assert_eq!(unsupported("lambda x: x"), "ast.Lambda");
        assert_eq!(unsupported("*a"), "ast.Starred");
        assert_eq!(unsupported("[*a]"), "ast.Starred");
        assert_eq!(unsupported("{**a}"), "NoneType");
        assert_eq!(unsupported("x=Yes"), "ast.Name");
    }

    #[test]
    fn syntax_errors_are_reported_not_panicked() {
        for src in [
            "1,,", "(1", "[1", "{1:}", "x=", "a=1, 2", "**{}, 1", "'a' b'c'", ") (", "1 2",
            "lambda", "if", "{**a, 1}", "True=1", "1) + (2",
        ] {
            assert!(
                matches!(
                    parse_call_args(src),
                    Err(ParseError::InvalidArguments { .. } | ParseError::UnsupportedNode { .. })
                ),
                "{src}"
            );
        }
        assert!(parse_call_args("**{'a': 1}").is_err());
        assert!(parse_call_args("1j").is_err());
        assert!(parse_call_args("...").is_err());
        assert!(parse_call_args("1e400").is_err());
        assert!(parse_call_args("[[1], 2]").is_ok());
        assert_eq!(ok("\"a\") # (").0, vec![json!("a")]);
        assert!(parse_call_args("{[1]: 2}").is_err());
        let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(
            parse_call_args(&deep)
                .unwrap_err()
                .to_string()
                .contains("nested too deeply")
        );
        let neg = format!("{}1", "-".repeat(100_000));
        assert!(parse_call_args(&neg).is_err());
        let nots = format!("{}x", "not ".repeat(100_000));
        assert!(parse_call_args(&nots).is_err());
        let ok_depth = format!("{}1{}", "[".repeat(50), "]".repeat(50));
        assert!(parse_call_args(&ok_depth).is_ok());
        let too_deep = format!("{}1{}", "[".repeat(51), "]".repeat(51));
        assert!(parse_call_args(&too_deep).is_err());
    }
}
