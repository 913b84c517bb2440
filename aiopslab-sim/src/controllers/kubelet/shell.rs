//! A small POSIX-like shell and the usual utilities, for `kubectl exec` and for containers
//! whose command is a shell script (`sh -c 'while true; do echo hi; sleep 5; done'`).
//!
//! It parses sequences (`;`, newlines, `&&`, `||`), pipelines, redirections to files,
//! variables (`$X`, `${X}`, `${X:-d}`, `$?`), command substitution (`$(...)`, backquotes),
//! arithmetic (`$((i+1))`), `if`, `while`/`until`, `for`, `{ }` and `( )`. Time only passes
//! in `sleep`, which adds to a virtual clock: running a script yields its output lines with
//! offsets, which become the container's log lines, and its exit code and run time.
//! Unknown commands fail as the image's shell says (`sh: 1: foo: not found`, exit 127).

use crate::controllers::behavior::ShellKind;
use crate::runtime::ExecOutput;
use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use std::collections::{BTreeMap, BTreeSet};

/// The utilities this shell implements (when the image has utilities).
const UTILITIES: &[&str] = &[
    "echo", "printf", "cat", "ls", "env", "printenv", "hostname", "date", "sleep", "pwd", "true",
    "false", "whoami", "id", "uname", "test", "[", "grep", "head", "tail", "wc", "touch", "mkdir",
    "rm", "sort", "uniq", "cut", "which", "seq", "tee", "ps", "kill", "nproc", "basename",
    "dirname", "expr", "yes", "df", "free", "uptime", "stat",
];

/// Whether the shell implements `name` as a utility.
pub(crate) fn is_utility(name: &str) -> bool {
    UTILITIES.contains(&name)
}

/// Whether an image with this shell has the utility (`ps` is a BusyBox applet; Debian-based
/// images such as nginx do not ship procps).
pub(crate) fn has_utility(name: &str, kind: Option<ShellKind>) -> bool {
    is_utility(name) && (name != "ps" || kind == Some(ShellKind::Ash))
}

/// Why evaluation stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Exit(i32),
    Break,
    Continue,
    /// The run reached its time horizon or step budget (it runs "forever").
    Horizon,
}

type Res = Result<i32, Flow>;

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Lit(String),
    Quoted(String),
    Var(String, bool),
    Sub(String, bool),
    Arith(String),
}

type Word = Vec<Seg>;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(Word),
    Op(&'static str),
    Redir(u8, &'static str),
    Newline,
}

#[derive(Debug, Clone)]
enum Redirect {
    Out { fd: u8, target: Word, append: bool },
    In(Word),
    Dup { from: u8, to: u8 },
}

#[derive(Debug, Clone)]
enum Cmd {
    Simple {
        assigns: Vec<(String, Word)>,
        words: Vec<Word>,
        redirects: Vec<Redirect>,
    },
    Loop {
        cond: List,
        body: List,
        until: bool,
    },
    For {
        var: String,
        items: Vec<Word>,
        body: List,
    },
    If {
        branches: Vec<(List, List)>,
        otherwise: Option<List>,
    },
    Group(List),
    Subshell(List),
}

#[derive(Debug, Clone)]
struct Pipeline {
    negate: bool,
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
struct AndOr {
    first: Pipeline,
    rest: Vec<(bool, Pipeline)>,
}

type List = Vec<AndOr>;

// ---------------------------------------------------------------------------------------------
// Tokenizer

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    _src: &'a str,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Lexer {
            chars: src.chars().collect(),
            pos: 0,
            _src: src,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    /// Text up to the matching close paren (after an opening `(` already consumed).
    fn balanced(&mut self, depth_start: usize) -> Result<String, String> {
        let mut depth = depth_start;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(out);
                    }
                }
                '\'' => {
                    out.push(c);
                    while let Some(q) = self.peek() {
                        self.pos += 1;
                        out.push(q);
                        if q == '\'' {
                            break;
                        }
                    }
                    continue;
                }
                _ => {}
            }
            out.push(c);
        }
        Err("Syntax error: end of file unexpected (expecting \")\")".into())
    }

    fn dollar(&mut self, quoted: bool) -> Result<Seg, String> {
        // self.pos is just after '$'.
        match self.peek() {
            Some('(') if self.peek_at(1) == Some('(') => {
                self.pos += 2;
                let inner = self.balanced(2)?;
                Ok(Seg::Arith(inner.trim_end_matches(')').to_string()))
            }
            Some('(') => {
                self.pos += 1;
                Ok(Seg::Sub(self.balanced(1)?, quoted))
            }
            Some('{') => {
                self.pos += 1;
                let mut name = String::new();
                while let Some(c) = self.peek() {
                    self.pos += 1;
                    if c == '}' {
                        return Ok(Seg::Var(name, quoted));
                    }
                    name.push(c);
                }
                Err("Syntax error: Missing '}'".into())
            }
            Some(c) if c.is_ascii_digit() || "?$#@*!".contains(c) => {
                self.pos += 1;
                Ok(Seg::Var(c.to_string(), quoted))
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::new();
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        name.push(c);
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                Ok(Seg::Var(name, quoted))
            }
            _ => Ok(if quoted {
                Seg::Quoted("$".into())
            } else {
                Seg::Lit("$".into())
            }),
        }
    }

    #[allow(unused_assignments)]
    fn tokens(mut self) -> Result<Vec<Tok>, String> {
        let mut out = Vec::new();
        let mut word: Word = Vec::new();
        let mut lit = String::new();
        let mut in_word = false;
        macro_rules! flush_lit {
            () => {
                if !lit.is_empty() {
                    word.push(Seg::Lit(std::mem::take(&mut lit)));
                }
            };
        }
        macro_rules! end_word {
            () => {
                flush_lit!();
                if in_word {
                    out.push(Tok::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
            };
        }
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' => {
                    self.pos += 1;
                    end_word!();
                }
                '\n' => {
                    self.pos += 1;
                    end_word!();
                    out.push(Tok::Newline);
                }
                '#' if !in_word => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                '\\' => {
                    self.pos += 1;
                    match self.peek() {
                        Some('\n') => self.pos += 1,
                        Some(n) => {
                            self.pos += 1;
                            flush_lit!();
                            word.push(Seg::Quoted(n.to_string()));
                            in_word = true;
                        }
                        None => {}
                    }
                }
                '\'' => {
                    self.pos += 1;
                    flush_lit!();
                    let mut q = String::new();
                    loop {
                        match self.peek() {
                            Some('\'') => {
                                self.pos += 1;
                                break;
                            }
                            Some(ch) => {
                                q.push(ch);
                                self.pos += 1;
                            }
                            None => {
                                return Err("Syntax error: Unterminated quoted string".to_string());
                            }
                        }
                    }
                    word.push(Seg::Quoted(q));
                    in_word = true;
                }
                '"' => {
                    self.pos += 1;
                    flush_lit!();
                    let mut q = String::new();
                    let mut any = false;
                    loop {
                        match self.peek() {
                            Some('"') => {
                                self.pos += 1;
                                break;
                            }
                            Some('\\') => {
                                self.pos += 1;
                                match self.peek() {
                                    Some(n @ ('"' | '\\' | '$' | '`')) => {
                                        q.push(n);
                                        self.pos += 1;
                                    }
                                    Some('\n') => self.pos += 1,
                                    _ => q.push('\\'),
                                }
                            }
                            Some('$') => {
                                self.pos += 1;
                                if !q.is_empty() {
                                    word.push(Seg::Quoted(std::mem::take(&mut q)));
                                }
                                word.push(self.dollar(true)?);
                                any = true;
                            }
                            Some('`') => {
                                self.pos += 1;
                                if !q.is_empty() {
                                    word.push(Seg::Quoted(std::mem::take(&mut q)));
                                }
                                let mut inner = String::new();
                                while let Some(ch) = self.peek() {
                                    self.pos += 1;
                                    if ch == '`' {
                                        break;
                                    }
                                    inner.push(ch);
                                }
                                word.push(Seg::Sub(inner, true));
                                any = true;
                            }
                            Some(ch) => {
                                q.push(ch);
                                self.pos += 1;
                            }
                            None => {
                                return Err("Syntax error: Unterminated quoted string".to_string());
                            }
                        }
                    }
                    if !q.is_empty() || !any {
                        word.push(Seg::Quoted(q));
                    }
                    in_word = true;
                }
                '$' => {
                    self.pos += 1;
                    flush_lit!();
                    word.push(self.dollar(false)?);
                    in_word = true;
                }
                '`' => {
                    self.pos += 1;
                    flush_lit!();
                    let mut inner = String::new();
                    while let Some(ch) = self.peek() {
                        self.pos += 1;
                        if ch == '`' {
                            break;
                        }
                        inner.push(ch);
                    }
                    word.push(Seg::Sub(inner, false));
                    in_word = true;
                }
                '>' | '<' => {
                    // `2>`, `2>>`, `2>&1` when the word so far is a single digit.
                    let fd_prefix = if word.is_empty() && lit.len() == 1 {
                        lit.chars().next().and_then(|d| d.to_digit(10))
                    } else {
                        None
                    };
                    if let Some(fd) = fd_prefix {
                        lit.clear();
                        self.pos += 1;
                        out.push(self.redirect(c, fd as u8));
                    } else {
                        end_word!();
                        self.pos += 1;
                        let fd = if c == '<' { 0 } else { 1 };
                        out.push(self.redirect(c, fd));
                    }
                }
                ';' | '&' | '|' | '(' | ')' => {
                    end_word!();
                    self.pos += 1;
                    let two = self.peek();
                    let op = match (c, two) {
                        ('&', Some('&')) => {
                            self.pos += 1;
                            "&&"
                        }
                        ('|', Some('|')) => {
                            self.pos += 1;
                            "||"
                        }
                        (';', Some(';')) => {
                            self.pos += 1;
                            ";;"
                        }
                        (';', _) => ";",
                        ('&', _) => "&",
                        ('|', _) => "|",
                        ('(', _) => "(",
                        _ => ")",
                    };
                    out.push(Tok::Op(op));
                }
                _ => {
                    self.pos += 1;
                    lit.push(c);
                    in_word = true;
                }
            }
        }
        end_word!();
        Ok(out)
    }

    fn redirect(&mut self, c: char, fd: u8) -> Tok {
        if c == '<' {
            return Tok::Redir(0, "<");
        }
        match self.peek() {
            Some('>') => {
                self.pos += 1;
                Tok::Redir(fd, ">>")
            }
            Some('&') => {
                self.pos += 1;
                Tok::Redir(fd, ">&")
            }
            _ => Tok::Redir(fd, ">"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parser

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

fn plain(word: &Word) -> Option<String> {
    let mut s = String::new();
    for seg in word {
        match seg {
            Seg::Lit(l) => s.push_str(l),
            _ => return None,
        }
    }
    Some(s)
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn peek_reserved(&self) -> Option<String> {
        match self.peek() {
            Some(Tok::Word(w)) => plain(w).filter(|s| {
                matches!(
                    s.as_str(),
                    "do" | "done"
                        | "then"
                        | "fi"
                        | "elif"
                        | "else"
                        | "}"
                        | "in"
                        | "if"
                        | "while"
                        | "until"
                        | "for"
                        | "{"
                        | "!"
                )
            }),
            _ => None,
        }
    }

    fn skip_separators(&mut self) {
        while matches!(
            self.peek(),
            Some(Tok::Newline) | Some(Tok::Op(";")) | Some(Tok::Op("&"))
        ) {
            self.pos += 1;
        }
    }

    fn expect_word(&mut self, want: &str) -> Result<(), String> {
        self.skip_separators();
        if self.peek_reserved().as_deref() == Some(want) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!(
                "Syntax error: {} unexpected (expecting \"{want}\")",
                self.describe()
            ))
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "end of file".into(),
            Some(Tok::Newline) => "newline".into(),
            Some(Tok::Op(op)) => format!("\"{op}\""),
            Some(Tok::Redir(_, r)) => format!("\"{r}\""),
            Some(Tok::Word(w)) => format!("word \"{}\"", plain(w).unwrap_or_default()),
        }
    }

    /// A list ending at one of `terminators` (reserved words) or `)` or the end.
    fn list(&mut self, terminators: &[&str]) -> Result<List, String> {
        let mut list = Vec::new();
        loop {
            self.skip_separators();
            match self.peek() {
                None | Some(Tok::Op(")")) => break,
                _ => {}
            }
            if let Some(r) = self.peek_reserved()
                && terminators.contains(&r.as_str())
            {
                break;
            }
            list.push(self.and_or()?);
        }
        Ok(list)
    }

    fn and_or(&mut self) -> Result<AndOr, String> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            match self.peek() {
                Some(Tok::Op("&&")) => {
                    self.pos += 1;
                    while matches!(self.peek(), Some(Tok::Newline)) {
                        self.pos += 1;
                    }
                    rest.push((true, self.pipeline()?));
                }
                Some(Tok::Op("||")) => {
                    self.pos += 1;
                    while matches!(self.peek(), Some(Tok::Newline)) {
                        self.pos += 1;
                    }
                    rest.push((false, self.pipeline()?));
                }
                _ => break,
            }
        }
        Ok(AndOr { first, rest })
    }

    fn pipeline(&mut self) -> Result<Pipeline, String> {
        let mut negate = false;
        if self.peek_reserved().as_deref() == Some("!") {
            self.pos += 1;
            negate = true;
        }
        let mut cmds = vec![self.command()?];
        while matches!(self.peek(), Some(Tok::Op("|"))) {
            self.pos += 1;
            while matches!(self.peek(), Some(Tok::Newline)) {
                self.pos += 1;
            }
            cmds.push(self.command()?);
        }
        Ok(Pipeline { negate, cmds })
    }

    fn command(&mut self) -> Result<Cmd, String> {
        match self.peek_reserved().as_deref() {
            Some("while") | Some("until") => {
                let until = self.peek_reserved().as_deref() == Some("until");
                self.pos += 1;
                let cond = self.list(&["do"])?;
                self.expect_word("do")?;
                let body = self.list(&["done"])?;
                self.expect_word("done")?;
                Ok(Cmd::Loop { cond, body, until })
            }
            Some("for") => {
                self.pos += 1;
                let var = match self.peek() {
                    Some(Tok::Word(w)) => plain(w).unwrap_or_default(),
                    _ => return Err(format!("Syntax error: {} unexpected", self.describe())),
                };
                self.pos += 1;
                let mut items = Vec::new();
                while matches!(self.peek(), Some(Tok::Newline)) {
                    self.pos += 1;
                }
                if self.peek_reserved().as_deref() == Some("in") {
                    self.pos += 1;
                    while let Some(Tok::Word(w)) = self.peek() {
                        if plain(w).as_deref() == Some("do") {
                            break;
                        }
                        items.push(w.clone());
                        self.pos += 1;
                    }
                } else {
                    items.push(vec![Seg::Var("@".into(), true)]);
                }
                self.expect_word("do")?;
                let body = self.list(&["done"])?;
                self.expect_word("done")?;
                Ok(Cmd::For { var, items, body })
            }
            Some("if") => {
                self.pos += 1;
                let mut branches = Vec::new();
                let mut otherwise = None;
                let cond = self.list(&["then"])?;
                self.expect_word("then")?;
                let body = self.list(&["elif", "else", "fi"])?;
                branches.push((cond, body));
                loop {
                    self.skip_separators();
                    match self.peek_reserved().as_deref() {
                        Some("elif") => {
                            self.pos += 1;
                            let c = self.list(&["then"])?;
                            self.expect_word("then")?;
                            let b = self.list(&["elif", "else", "fi"])?;
                            branches.push((c, b));
                        }
                        Some("else") => {
                            self.pos += 1;
                            otherwise = Some(self.list(&["fi"])?);
                        }
                        Some("fi") => {
                            self.pos += 1;
                            break;
                        }
                        _ => {
                            return Err(format!(
                                "Syntax error: {} unexpected (expecting \"fi\")",
                                self.describe()
                            ));
                        }
                    }
                }
                Ok(Cmd::If {
                    branches,
                    otherwise,
                })
            }
            Some("{") => {
                self.pos += 1;
                let body = self.list(&["}"])?;
                self.expect_word("}")?;
                Ok(Cmd::Group(body))
            }
            Some(r) if matches!(r, "do" | "done" | "then" | "fi" | "elif" | "else" | "}") => {
                Err(format!("Syntax error: \"{r}\" unexpected"))
            }
            _ => {
                if matches!(self.peek(), Some(Tok::Op("("))) {
                    self.pos += 1;
                    let body = self.list(&[])?;
                    if !matches!(self.peek(), Some(Tok::Op(")"))) {
                        return Err(
                            "Syntax error: end of file unexpected (expecting \")\")".to_string()
                        );
                    }
                    self.pos += 1;
                    return Ok(Cmd::Subshell(body));
                }
                self.simple()
            }
        }
    }

    fn simple(&mut self) -> Result<Cmd, String> {
        let mut assigns = Vec::new();
        let mut words = Vec::new();
        let mut redirects = Vec::new();
        loop {
            match self.peek().cloned() {
                Some(Tok::Word(w)) => {
                    self.pos += 1;
                    if words.is_empty()
                        && let Some(Seg::Lit(first)) = w.first()
                        && let Some((name, value)) = first.split_once('=')
                        && !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && !name.starts_with(|c: char| c.is_ascii_digit())
                    {
                        let mut value_word: Word = Vec::new();
                        if !value.is_empty() {
                            value_word.push(Seg::Lit(value.to_string()));
                        }
                        value_word.extend(w[1..].iter().cloned());
                        assigns.push((name.to_string(), value_word));
                        continue;
                    }
                    words.push(w);
                }
                Some(Tok::Redir(fd, kind)) => {
                    self.pos += 1;
                    let target = match self.peek().cloned() {
                        Some(Tok::Word(t)) => {
                            self.pos += 1;
                            t
                        }
                        _ => {
                            return Err(format!("Syntax error: {} unexpected", self.describe()));
                        }
                    };
                    redirects.push(match kind {
                        "<" => Redirect::In(target),
                        ">&" => {
                            let to = plain(&target)
                                .and_then(|t| t.parse::<u8>().ok())
                                .unwrap_or(1);
                            Redirect::Dup { from: fd, to }
                        }
                        _ => Redirect::Out {
                            fd,
                            target,
                            append: kind == ">>",
                        },
                    });
                }
                _ => break,
            }
        }
        if words.is_empty() && assigns.is_empty() && redirects.is_empty() {
            return Err(format!("Syntax error: {} unexpected", self.describe()));
        }
        Ok(Cmd::Simple {
            assigns,
            words,
            redirects,
        })
    }
}

fn parse(src: &str) -> Result<List, String> {
    let toks = Lexer::new(src).tokens()?;
    let mut p = Parser { toks, pos: 0 };
    let list = p.list(&[])?;
    if p.pos < p.toks.len() {
        return Err(format!("Syntax error: {} unexpected", p.describe()));
    }
    Ok(list)
}

// ---------------------------------------------------------------------------------------------
// Machine

/// A chunk of output at a point of the run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chunk {
    /// Virtual time since the start of the run.
    pub at: SignedDuration,
    /// Whether it went to standard error.
    pub stderr: bool,
    /// The text.
    pub text: String,
}

/// Where a command's output goes.
enum Sink {
    /// Captured (pipes, command substitution, redirections).
    Buf(String),
    /// The run's output, time-stamped.
    Top,
}

/// A command the image itself implements (a behaviour's `exec`).
pub(crate) type Hook<'a> =
    dyn Fn(&[String], &BTreeMap<String, String>, Option<&[u8]>) -> Option<ExecOutput> + 'a;

/// The shell's state: variables, files, virtual time and output.
pub(crate) struct Machine<'a> {
    /// Shell variables.
    vars: BTreeMap<String, String>,
    /// Exported variable names in the order they were set (for `env`).
    exported: Vec<String>,
    /// The container's files (volumes, image files, files written so far).
    pub files: BTreeMap<String, String>,
    /// Directories known to exist.
    pub dirs: BTreeSet<String>,
    cwd: String,
    kind: ShellKind,
    /// The name the shell was invoked as (`sh`, `/bin/sh`, `bash`).
    argv0: String,
    utilities: bool,
    hostname: String,
    start: Timestamp,
    /// Virtual time spent so far.
    pub elapsed: SignedDuration,
    horizon: SignedDuration,
    steps: u64,
    max_steps: u64,
    /// Time-stamped output of the run.
    pub chunks: Vec<Chunk>,
    /// Whether the script installed a SIGTERM trap.
    pub trapped_term: bool,
    positional: Vec<String>,
    last_status: i32,
    hook: Option<&'a Hook<'a>>,
    /// The command line of PID 1, for `ps`.
    pub pid1: String,
    executables: BTreeSet<String>,
}

/// What the machine needs to start.
pub(crate) struct Setup<'a> {
    /// Environment in order.
    pub env: Vec<(String, String)>,
    /// The container's files.
    pub files: BTreeMap<String, String>,
    /// The image's shell flavour.
    pub kind: ShellKind,
    /// Whether the image has the usual utilities.
    pub utilities: bool,
    /// Extra executables of the image.
    pub executables: Vec<String>,
    /// The pod's hostname.
    pub hostname: String,
    /// When the run starts.
    pub start: Timestamp,
    /// How much virtual time a run may take before it counts as running forever.
    pub horizon: SignedDuration,
    /// Commands the image implements itself.
    pub hook: Option<&'a Hook<'a>>,
    /// PID 1's command line.
    pub pid1: String,
}

const BASE_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/local",
    "/usr/local/bin",
    "/var",
    "/var/log",
];

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

impl<'a> Machine<'a> {
    /// A machine ready to run commands.
    pub(crate) fn new(setup: Setup<'a>) -> Self {
        let mut vars = BTreeMap::new();
        let mut exported = Vec::new();
        for (k, v) in setup.env {
            if !vars.contains_key(&k) {
                exported.push(k.clone());
            }
            vars.insert(k, v);
        }
        let mut dirs: BTreeSet<String> = BASE_DIRS.iter().map(|s| s.to_string()).collect();
        for path in setup.files.keys() {
            let mut p = parent(path);
            while p != "/" && p != "." {
                dirs.insert(p.to_string());
                p = parent(p);
            }
        }
        Machine {
            vars,
            exported,
            files: setup.files,
            dirs,
            cwd: "/".into(),
            kind: setup.kind,
            argv0: "sh".into(),
            utilities: setup.utilities,
            hostname: setup.hostname,
            start: setup.start,
            elapsed: SignedDuration::ZERO,
            horizon: setup.horizon,
            steps: 0,
            max_steps: 200_000,
            chunks: Vec::new(),
            trapped_term: false,
            positional: Vec::new(),
            last_status: 0,
            hook: setup.hook,
            pid1: setup.pid1,
            executables: setup.executables.into_iter().collect(),
        }
    }

    fn now(&self) -> Timestamp {
        self.start.checked_add(self.elapsed).unwrap_or(self.start)
    }

    fn resolve(&self, path: &str) -> String {
        let joined = if path.starts_with('/') {
            path.to_string()
        } else if self.cwd == "/" {
            format!("/{path}")
        } else {
            format!("{}/{path}", self.cwd)
        };
        let mut parts: Vec<&str> = Vec::new();
        for p in joined.split('/') {
            match p {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        format!("/{}", parts.join("/"))
    }

    fn is_dir(&self, path: &str) -> bool {
        self.dirs.contains(path)
            || self
                .files
                .keys()
                .any(|f| f.starts_with(path) && f[path.len()..].starts_with('/'))
    }

    fn write(&mut self, sink: &mut Sink, stderr: bool, text: &str) {
        if text.is_empty() {
            return;
        }
        match sink {
            Sink::Buf(b) => b.push_str(text),
            Sink::Top => {
                let at = self.elapsed;
                match self.chunks.last_mut() {
                    Some(last) if last.at == at && last.stderr == stderr => {
                        last.text.push_str(text)
                    }
                    _ => self.chunks.push(Chunk {
                        at,
                        stderr,
                        text: text.to_string(),
                    }),
                }
            }
        }
    }

    fn not_found_message(&self, name: &str) -> String {
        match self.kind {
            ShellKind::Dash => format!("{}: 1: {name}: not found\n", self.argv0),
            ShellKind::Ash => format!("{}: {name}: not found\n", self.argv0),
            ShellKind::Bash => format!("{}: line 1: {name}: command not found\n", self.argv0),
        }
    }

    // -- expansion ------------------------------------------------------------------------

    fn var(&self, name: &str) -> String {
        match name {
            "?" => self.last_status.to_string(),
            "$" => "1".into(),
            "!" => String::new(),
            "#" => self.positional.len().to_string(),
            "@" | "*" => self.positional.join(" "),
            "0" => self.argv0.clone(),
            "RANDOM" => (self.steps * 7919 % 32768).to_string(),
            d if d.len() == 1 && d.chars().all(|c| c.is_ascii_digit()) => {
                let i: usize = d.parse().unwrap_or(0);
                self.positional.get(i - 1).cloned().unwrap_or_default()
            }
            _ => {
                // ${X:-default}, ${X-default}, ${X:=default}, ${#X}
                if let Some(n) = name.strip_prefix('#') {
                    return self.vars.get(n).map(|v| v.len()).unwrap_or(0).to_string();
                }
                for op in [":-", ":=", "-", "="] {
                    if let Some((n, d)) = name.split_once(op) {
                        let v = self.vars.get(n);
                        let empty = v.is_none_or(|v| op.starts_with(':') && v.is_empty());
                        return if empty {
                            d.to_string()
                        } else {
                            v.cloned().unwrap_or_default()
                        };
                    }
                }
                self.vars.get(name).cloned().unwrap_or_default()
            }
        }
    }

    /// Expands a word into fields (unquoted expansions split on whitespace).
    fn expand(&mut self, word: &Word) -> Result<Vec<String>, Flow> {
        let mut fields: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut has = false;
        for seg in word {
            let (text, split) = match seg {
                Seg::Lit(l) => (l.clone(), false),
                Seg::Quoted(q) => {
                    has = true;
                    (q.clone(), false)
                }
                Seg::Var(n, quoted) => {
                    if *quoted {
                        has = true;
                    }
                    (self.var(n), !quoted)
                }
                Seg::Sub(src, quoted) => {
                    if *quoted {
                        has = true;
                    }
                    let out = self.capture(src)?;
                    (out.trim_end_matches('\n').to_string(), !quoted)
                }
                Seg::Arith(expr) => (self.arith(expr).to_string(), false),
            };
            if split {
                let mut parts = text.split_whitespace().peekable();
                if text.starts_with(char::is_whitespace) && (has || !cur.is_empty()) {
                    fields.push(std::mem::take(&mut cur));
                    has = false;
                }
                while let Some(p) = parts.next() {
                    cur.push_str(p);
                    if parts.peek().is_some() {
                        fields.push(std::mem::take(&mut cur));
                    }
                    has = true;
                }
                if text.ends_with(char::is_whitespace) && !cur.is_empty() {
                    fields.push(std::mem::take(&mut cur));
                    has = false;
                }
            } else {
                cur.push_str(&text);
                if !text.is_empty() {
                    has = true;
                }
            }
        }
        if has || !cur.is_empty() {
            fields.push(cur);
        }
        // Globs: `*` in an unquoted literal lists matching files.
        let mut out = Vec::new();
        for f in fields {
            let unquoted_star = word
                .iter()
                .any(|s| matches!(s, Seg::Lit(l) if l.contains('*')));
            if unquoted_star && f.contains('*') {
                let matches = self.glob(&f);
                if matches.is_empty() {
                    out.push(f);
                } else {
                    out.extend(matches);
                }
            } else {
                out.push(f);
            }
        }
        Ok(out)
    }

    fn glob(&self, pattern: &str) -> Vec<String> {
        let abs = self.resolve(pattern);
        let dir = parent(&abs).to_string();
        let base_pat = abs.rsplit('/').next().unwrap_or("").to_string();
        let (pre, post) = base_pat.split_once('*').unwrap_or((&base_pat, ""));
        let mut found: Vec<String> = self
            .entries(&dir)
            .into_iter()
            .filter(|e| e.starts_with(pre) && e.ends_with(post) && !e.starts_with('.'))
            .map(|e| {
                if pattern.starts_with('/') {
                    if dir == "/" {
                        format!("/{e}")
                    } else {
                        format!("{dir}/{e}")
                    }
                } else {
                    let rel_dir = parent(pattern);
                    if rel_dir == "." {
                        e
                    } else {
                        format!("{rel_dir}/{e}")
                    }
                }
            })
            .collect();
        found.sort();
        found
    }

    fn expand_one(&mut self, word: &Word) -> Result<String, Flow> {
        Ok(self.expand(word)?.join(" "))
    }

    fn arith(&self, expr: &str) -> i64 {
        let tokens: Vec<String> = {
            let mut t = Vec::new();
            let mut cur = String::new();
            for c in expr.chars() {
                if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
                    cur.push(c);
                } else {
                    if !cur.is_empty() {
                        t.push(std::mem::take(&mut cur));
                    }
                    if !c.is_whitespace() {
                        t.push(c.to_string());
                    }
                }
            }
            if !cur.is_empty() {
                t.push(cur);
            }
            t
        };
        let mut pos = 0;
        self.arith_sum(&tokens, &mut pos)
    }

    fn arith_atom(&self, t: &[String], pos: &mut usize) -> i64 {
        let Some(tok) = t.get(*pos) else {
            return 0;
        };
        *pos += 1;
        match tok.as_str() {
            "(" => {
                let v = self.arith_sum(t, pos);
                *pos += 1;
                v
            }
            "-" => -self.arith_atom(t, pos),
            other => other.parse().unwrap_or_else(|_| {
                self.var(other.trim_start_matches('$'))
                    .trim()
                    .parse()
                    .unwrap_or(0)
            }),
        }
    }

    fn arith_product(&self, t: &[String], pos: &mut usize) -> i64 {
        let mut v = self.arith_atom(t, pos);
        while let Some(op) = t.get(*pos).map(String::as_str) {
            match op {
                "*" => {
                    *pos += 1;
                    v = v.wrapping_mul(self.arith_atom(t, pos));
                }
                "/" | "%" => {
                    *pos += 1;
                    let r = self.arith_atom(t, pos);
                    v = if r == 0 {
                        0
                    } else if op == "/" {
                        v / r
                    } else {
                        v % r
                    };
                }
                _ => break,
            }
        }
        v
    }

    fn arith_sum(&self, t: &[String], pos: &mut usize) -> i64 {
        let mut v = self.arith_product(t, pos);
        while let Some(op) = t.get(*pos).map(String::as_str) {
            match op {
                "+" => {
                    *pos += 1;
                    v = v.wrapping_add(self.arith_product(t, pos));
                }
                "-" => {
                    *pos += 1;
                    v = v.wrapping_sub(self.arith_product(t, pos));
                }
                _ => break,
            }
        }
        v
    }

    /// Runs `src` in a subshell and returns its standard output.
    fn capture(&mut self, src: &str) -> Result<String, Flow> {
        let list = match parse(src) {
            Ok(l) => l,
            Err(_) => return Ok(String::new()),
        };
        let saved_vars = self.vars.clone();
        let saved_cwd = self.cwd.clone();
        let mut out = Sink::Buf(String::new());
        let mut err = Sink::Top;
        let r = self.run_list(&list, "", &mut out, &mut err);
        self.vars = saved_vars;
        self.cwd = saved_cwd;
        match r {
            Err(Flow::Horizon) => return Err(Flow::Horizon),
            Ok(code) | Err(Flow::Exit(code)) => self.last_status = code,
            Err(_) => {}
        }
        Ok(match out {
            Sink::Buf(b) => b,
            Sink::Top => String::new(),
        })
    }

    // -- evaluation -----------------------------------------------------------------------

    fn tick(&mut self) -> Result<(), Flow> {
        self.steps += 1;
        if self.steps > self.max_steps || self.elapsed > self.horizon {
            return Err(Flow::Horizon);
        }
        Ok(())
    }

    fn run_list(&mut self, list: &List, stdin: &str, out: &mut Sink, err: &mut Sink) -> Res {
        let mut status = 0;
        for ao in list {
            status = self.run_and_or(ao, stdin, out, err)?;
        }
        Ok(status)
    }

    fn run_and_or(&mut self, ao: &AndOr, stdin: &str, out: &mut Sink, err: &mut Sink) -> Res {
        let mut status = self.run_pipeline(&ao.first, stdin, out, err)?;
        for (is_and, p) in &ao.rest {
            if (*is_and && status == 0) || (!*is_and && status != 0) {
                status = self.run_pipeline(p, stdin, out, err)?;
            }
        }
        Ok(status)
    }

    fn run_pipeline(&mut self, p: &Pipeline, stdin: &str, out: &mut Sink, err: &mut Sink) -> Res {
        let mut status = 0;
        let mut input = stdin.to_string();
        let n = p.cmds.len();
        for (i, cmd) in p.cmds.iter().enumerate() {
            if i + 1 == n {
                status = self.run_cmd(cmd, &input, out, err)?;
            } else {
                let mut buf = Sink::Buf(String::new());
                let r = self.run_cmd(cmd, &input, &mut buf, err);
                if let Err(Flow::Horizon) = r {
                    return Err(Flow::Horizon);
                }
                input = match buf {
                    Sink::Buf(b) => b,
                    Sink::Top => String::new(),
                };
            }
        }
        let status = if p.negate {
            i32::from(status == 0)
        } else {
            status
        };
        self.last_status = status;
        Ok(status)
    }

    fn run_cmd(&mut self, cmd: &Cmd, stdin: &str, out: &mut Sink, err: &mut Sink) -> Res {
        self.tick()?;
        match cmd {
            Cmd::Simple {
                assigns,
                words,
                redirects,
            } => self.run_simple(assigns, words, redirects, stdin, out, err),
            Cmd::Loop { cond, body, until } => {
                let mut status = 0;
                loop {
                    self.tick()?;
                    let c = self.run_list(cond, stdin, out, err)?;
                    if (c == 0) == *until {
                        break;
                    }
                    match self.run_list(body, stdin, out, err) {
                        Ok(s) => status = s,
                        Err(Flow::Break) => break,
                        Err(Flow::Continue) => continue,
                        Err(f) => return Err(f),
                    }
                }
                Ok(status)
            }
            Cmd::For { var, items, body } => {
                let mut values = Vec::new();
                for w in items {
                    values.extend(self.expand(w)?);
                }
                let mut status = 0;
                for v in values {
                    self.vars.insert(var.clone(), v);
                    match self.run_list(body, stdin, out, err) {
                        Ok(s) => status = s,
                        Err(Flow::Break) => break,
                        Err(Flow::Continue) => continue,
                        Err(f) => return Err(f),
                    }
                }
                Ok(status)
            }
            Cmd::If {
                branches,
                otherwise,
            } => {
                for (cond, body) in branches {
                    if self.run_list(cond, stdin, out, err)? == 0 {
                        return self.run_list(body, stdin, out, err);
                    }
                }
                match otherwise {
                    Some(body) => self.run_list(body, stdin, out, err),
                    None => Ok(0),
                }
            }
            Cmd::Group(list) => self.run_list(list, stdin, out, err),
            Cmd::Subshell(list) => {
                let saved = (self.vars.clone(), self.cwd.clone());
                let r = self.run_list(list, stdin, out, err);
                (self.vars, self.cwd) = saved;
                match r {
                    Err(Flow::Exit(c)) => Ok(c),
                    other => other,
                }
            }
        }
    }

    fn run_simple(
        &mut self,
        assigns: &[(String, Word)],
        words: &[Word],
        redirects: &[Redirect],
        stdin: &str,
        out: &mut Sink,
        err: &mut Sink,
    ) -> Res {
        let mut argv = Vec::new();
        for w in words {
            argv.extend(self.expand(w)?);
        }
        let mut values = Vec::new();
        for (name, w) in assigns {
            values.push((name.clone(), self.expand_one(w)?));
        }
        if argv.is_empty() {
            for (k, v) in values {
                self.vars.insert(k, v);
            }
            return Ok(self.last_status);
        }
        // Redirections.
        let mut input = stdin.to_string();
        let mut out_file: Option<(String, bool)> = None;
        let mut err_file: Option<(String, bool)> = None;
        let mut err_to_out = false;
        let mut out_to_err = false;
        for r in redirects {
            match r {
                Redirect::In(w) => {
                    let target = self.expand_one(w)?;
                    let path = self.resolve(&target);
                    match self.files.get(&path) {
                        Some(c) => input = c.clone(),
                        None => {
                            let msg =
                                format!("{}: 1: cannot open {target}: No such file\n", self.argv0);
                            self.write(err, true, &msg);
                            return Ok(2);
                        }
                    }
                }
                Redirect::Out { fd, target, append } => {
                    let path = self.expand_one(target)?;
                    if *fd == 2 {
                        err_file = Some((path, *append));
                    } else {
                        out_file = Some((path, *append));
                    }
                }
                Redirect::Dup { from, to } => {
                    if *from == 2 && *to == 1 {
                        err_to_out = true;
                    } else if *from == 1 && *to == 2 {
                        out_to_err = true;
                    }
                }
            }
        }
        let mut cmd_out = Sink::Buf(String::new());
        let mut cmd_err = Sink::Buf(String::new());
        let saved: Vec<(String, Option<String>)> = values
            .iter()
            .map(|(k, _)| (k.clone(), self.vars.get(k).cloned()))
            .collect();
        for (k, v) in &values {
            self.vars.insert(k.clone(), v.clone());
        }
        let result = self.dispatch(&argv, &input, &mut cmd_out, &mut cmd_err);
        for (k, old) in saved {
            match old {
                Some(v) => self.vars.insert(k, v),
                None => self.vars.remove(&k),
            };
        }
        let out_text = match cmd_out {
            Sink::Buf(b) => b,
            Sink::Top => String::new(),
        };
        let err_text = match cmd_err {
            Sink::Buf(b) => b,
            Sink::Top => String::new(),
        };
        let (mut to_out, mut to_err) = (String::new(), String::new());
        let mut file_text = out_text.clone();
        match (&out_file, out_to_err) {
            (Some(_), _) => {}
            (None, true) => to_err.push_str(&out_text),
            (None, false) => to_out.push_str(&out_text),
        }
        match (&err_file, err_to_out) {
            (Some(_), _) => {}
            (None, true) => {
                if out_file.is_some() {
                    file_text.push_str(&err_text);
                } else {
                    to_out.push_str(&err_text);
                }
            }
            (None, false) => to_err.push_str(&err_text),
        }
        if let Some((path, append)) = &out_file {
            self.write_file(path, &file_text, *append);
        }
        if let Some((path, append)) = &err_file {
            self.write_file(path, &err_text, *append);
        }
        self.write(out, false, &to_out);
        self.write(err, true, &to_err);
        let status = result?;
        self.last_status = status;
        Ok(status)
    }

    fn write_file(&mut self, path: &str, text: &str, append: bool) {
        if path == "/dev/null" || path == "/dev/stdout" || path == "/dev/stderr" {
            return;
        }
        let abs = self.resolve(path);
        let entry = self.files.entry(abs).or_default();
        if append {
            entry.push_str(text);
        } else {
            *entry = text.to_string();
        }
    }

    fn dispatch(&mut self, argv: &[String], stdin: &str, out: &mut Sink, err: &mut Sink) -> Res {
        let name = argv[0].as_str();
        let args = &argv[1..];
        // Shell builtins.
        match name {
            "cd" => {
                let target = args
                    .first()
                    .cloned()
                    .unwrap_or_else(|| self.vars.get("HOME").cloned().unwrap_or("/".into()));
                let abs = self.resolve(&target);
                if self.is_dir(&abs) {
                    self.cwd = abs;
                    return Ok(0);
                }
                let msg = format!("{}: 1: cd: can't cd to {target}\n", self.argv0);
                self.write(err, true, &msg);
                return Ok(2);
            }
            "export" => {
                for a in args {
                    let (k, v) = match a.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (a.clone(), None),
                    };
                    if let Some(v) = v {
                        self.vars.insert(k.clone(), v);
                    }
                    if !self.exported.contains(&k) {
                        self.exported.push(k);
                    }
                }
                return Ok(0);
            }
            "unset" => {
                for a in args {
                    self.vars.remove(a);
                    self.exported.retain(|e| e != a);
                }
                return Ok(0);
            }
            "exit" => {
                let code = args
                    .first()
                    .and_then(|a| a.parse::<i32>().ok())
                    .unwrap_or(self.last_status);
                return Err(Flow::Exit(code & 0xff));
            }
            "break" => return Err(Flow::Break),
            "continue" => return Err(Flow::Continue),
            ":" | "set" | "wait" | "shopt" | "ulimit" | "umask" => return Ok(0),
            "trap" => {
                if args
                    .iter()
                    .skip(1)
                    .any(|s| matches!(s.as_str(), "TERM" | "SIGTERM" | "15" | "INT" | "EXIT" | "0"))
                {
                    self.trapped_term = true;
                }
                return Ok(0);
            }
            "return" => {
                let code = args.first().and_then(|a| a.parse().ok()).unwrap_or(0);
                return Err(Flow::Exit(code));
            }
            "eval" => {
                let src = args.join(" ");
                return match parse(&src) {
                    Ok(list) => self.run_list(&list, stdin, out, err),
                    Err(e) => {
                        let msg = format!("{}: 1: {e}\n", self.argv0);
                        self.write(err, true, &msg);
                        Ok(2)
                    }
                };
            }
            "." | "source" => {
                let path = self.resolve(args.first().map(String::as_str).unwrap_or(""));
                let Some(src) = self.files.get(&path).cloned() else {
                    let msg = format!(
                        "{}: 1: .: cannot open {}: No such file\n",
                        self.argv0,
                        args.first().cloned().unwrap_or_default()
                    );
                    self.write(err, true, &msg);
                    return Ok(2);
                };
                return match parse(&src) {
                    Ok(list) => self.run_list(&list, stdin, out, err),
                    Err(_) => Ok(2),
                };
            }
            "exec" => {
                if args.is_empty() {
                    return Ok(0);
                }
                let code = self.dispatch(args, stdin, out, err)?;
                return Err(Flow::Exit(code));
            }
            "read" => {
                let line = stdin.lines().next().unwrap_or_default().to_string();
                let names: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
                let mut parts = line.split_whitespace();
                for (i, n) in names.iter().enumerate() {
                    let v = if i + 1 == names.len() {
                        parts.clone().collect::<Vec<_>>().join(" ")
                    } else {
                        parts.next().unwrap_or_default().to_string()
                    };
                    self.vars.insert((*n).clone(), v);
                }
                return Ok(i32::from(stdin.is_empty()));
            }
            _ => {}
        }
        // Nested shells.
        let base = name.rsplit('/').next().unwrap_or(name);
        if base == "sh" || (base == "bash" && self.executables.contains("bash")) {
            return self.nested_shell(base, args, stdin, out, err);
        }
        // Commands of the image itself.
        if let Some(hook) = self.hook {
            let env = self.exported_env();
            if let Some(r) = hook(argv, &env, Some(stdin.as_bytes())) {
                let so = String::from_utf8_lossy(&r.stdout).to_string();
                let se = String::from_utf8_lossy(&r.stderr).to_string();
                self.write(out, false, &so);
                self.write(err, true, &se);
                return Ok(r.exit_code);
            }
        }
        if self.utilities && has_utility(base, Some(self.kind)) {
            return self.utility(base, args, stdin, out, err);
        }
        if self.executables.contains(base) || self.executables.contains(name) {
            // An executable of the image without simulated behaviour: it runs and succeeds.
            return Ok(0);
        }
        let msg = self.not_found_message(name);
        self.write(err, true, &msg);
        Ok(127)
    }

    fn nested_shell(
        &mut self,
        base: &str,
        args: &[String],
        stdin: &str,
        out: &mut Sink,
        err: &mut Sink,
    ) -> Res {
        let mut i = 0;
        let mut script: Option<String> = None;
        while i < args.len() {
            let a = &args[i];
            if a == "-c" {
                script = args.get(i + 1).cloned();
                i += 2;
                break;
            } else if a.starts_with('-') && a.len() > 1 && !a.starts_with("--") {
                if a.contains('c') {
                    script = args.get(i + 1).cloned();
                    i += 2;
                    break;
                }
                i += 1;
            } else {
                break;
            }
        }
        let rest: Vec<String> = args.get(i..).map(|r| r.to_vec()).unwrap_or_default();
        let (src, positional) = match script {
            Some(s) => (s, rest.iter().skip(1).cloned().collect::<Vec<_>>()),
            None => match rest.first() {
                Some(file) => {
                    let path = self.resolve(file);
                    match self.files.get(&path) {
                        Some(c) => (c.clone(), rest[1..].to_vec()),
                        None => {
                            let msg = format!("{base}: 0: cannot open {file}: No such file\n");
                            self.write(err, true, &msg);
                            return Ok(2);
                        }
                    }
                }
                None => (stdin.to_string(), vec![]),
            },
        };
        let saved_argv0 = std::mem::replace(&mut self.argv0, base.to_string());
        let saved_kind = self.kind;
        if base == "bash" {
            self.kind = ShellKind::Bash;
        }
        let saved_pos = std::mem::replace(&mut self.positional, positional);
        let r = match parse(&src) {
            Ok(list) => match self.run_list(&list, "", out, err) {
                Err(Flow::Exit(c)) => Ok(c),
                Err(Flow::Break) | Err(Flow::Continue) => Ok(0),
                other => other,
            },
            Err(e) => {
                let msg = match self.kind {
                    ShellKind::Bash => {
                        format!("{base}: -c: line 1: syntax error: {}\n", e.to_lowercase())
                    }
                    _ => format!("{base}: 1: {e}\n"),
                };
                self.write(err, true, &msg);
                Ok(2)
            }
        };
        self.argv0 = saved_argv0;
        self.kind = saved_kind;
        self.positional = saved_pos;
        r
    }

    fn exported_env(&self) -> BTreeMap<String, String> {
        self.exported
            .iter()
            .filter_map(|k| self.vars.get(k).map(|v| (k.clone(), v.clone())))
            .collect()
    }

    fn entries(&self, dir: &str) -> Vec<String> {
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        let mut names: BTreeSet<String> = BTreeSet::new();
        for p in self.files.keys().chain(self.dirs.iter()) {
            if let Some(rest) = p.strip_prefix(&prefix)
                && !rest.is_empty()
            {
                names.insert(rest.split('/').next().unwrap_or(rest).to_string());
            }
        }
        names.into_iter().collect()
    }

    fn coreutils(&self) -> bool {
        self.kind != ShellKind::Ash
    }

    fn missing(&self, tool: &str, path: &str) -> String {
        if self.coreutils() {
            match tool {
                "ls" => format!("ls: cannot access '{path}': No such file or directory\n"),
                _ => format!("{tool}: {path}: No such file or directory\n"),
            }
        } else {
            format!("{tool}: {path}: No such file or directory\n")
        }
    }

    #[allow(clippy::too_many_lines)]
    fn utility(
        &mut self,
        name: &str,
        args: &[String],
        stdin: &str,
        out: &mut Sink,
        err: &mut Sink,
    ) -> Res {
        let mut o = String::new();
        let mut e = String::new();
        let code: i32 = match name {
            "true" => 0,
            "false" => 1,
            "echo" => {
                let mut newline = true;
                let mut escapes = false;
                let mut i = 0;
                while let Some(a) = args.get(i) {
                    match a.as_str() {
                        "-n" => newline = false,
                        "-e" => escapes = true,
                        "-ne" | "-en" => {
                            newline = false;
                            escapes = true;
                        }
                        _ => break,
                    }
                    i += 1;
                }
                let text = args[i..].join(" ");
                o.push_str(&if escapes || self.kind == ShellKind::Dash {
                    unescape(&text)
                } else {
                    text
                });
                if newline {
                    o.push('\n');
                }
                0
            }
            "printf" => {
                let fmt = args.first().cloned().unwrap_or_default();
                o.push_str(&printf(&fmt, &args[args.len().min(1)..]));
                0
            }
            "cat" => {
                let mut code = 0;
                if args.is_empty() || args.iter().all(|a| a == "-") {
                    o.push_str(stdin);
                }
                for a in args.iter().filter(|a| *a != "-" && !a.starts_with('-')) {
                    let p = self.resolve(a);
                    match self.files.get(&p) {
                        Some(c) => o.push_str(c),
                        None if self.is_dir(&p) => {
                            e.push_str(&format!("cat: {a}: Is a directory\n"));
                            code = 1;
                        }
                        None => {
                            e.push_str(&self.missing("cat", a));
                            code = 1;
                        }
                    }
                }
                code
            }
            "ls" => {
                let long = args.iter().any(|a| a.starts_with('-') && a.contains('l'));
                let all = args.iter().any(|a| a.starts_with('-') && a.contains('a'));
                let targets: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
                let targets: Vec<String> = if targets.is_empty() {
                    vec![".".into()]
                } else {
                    targets.into_iter().cloned().collect()
                };
                let mut code = 0;
                let many = targets.len() > 1;
                for (ti, t) in targets.iter().enumerate() {
                    let p = self.resolve(t);
                    if let Some(content) = self.files.get(&p) {
                        if long {
                            o.push_str(&self.long_line(t, content.len(), false));
                        } else {
                            o.push_str(&format!("{t}\n"));
                        }
                        continue;
                    }
                    if !self.is_dir(&p) {
                        e.push_str(&self.missing("ls", t));
                        code = if self.coreutils() { 2 } else { 1 };
                        continue;
                    }
                    if many {
                        if ti > 0 {
                            o.push('\n');
                        }
                        o.push_str(&format!("{t}:\n"));
                    }
                    let mut names = self.entries(&p);
                    if all {
                        names.insert(0, "..".into());
                        names.insert(0, ".".into());
                    } else {
                        names.retain(|n| !n.starts_with('.'));
                    }
                    if long {
                        o.push_str(&format!("total {}\n", names.len() * 4));
                    }
                    for n in names {
                        let child = if p == "/" {
                            format!("/{n}")
                        } else {
                            format!("{p}/{n}")
                        };
                        if long {
                            let (size, dir) = match self.files.get(&child) {
                                Some(c) => (c.len(), false),
                                None => (4096, true),
                            };
                            o.push_str(&self.long_line(&n, size, dir));
                        } else {
                            o.push_str(&format!("{n}\n"));
                        }
                    }
                }
                code
            }
            "env" | "printenv" => {
                let env = self.exported_env();
                let vars: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
                if name == "printenv" && !vars.is_empty() {
                    let mut code = 0;
                    for v in vars {
                        match env.get(v) {
                            Some(val) => o.push_str(&format!("{val}\n")),
                            None => code = 1,
                        }
                    }
                    code
                } else if name == "env" && !vars.is_empty() {
                    // `env CMD ...` / `env K=V CMD`.
                    let mut i = 0;
                    while let Some((k, v)) = args.get(i).and_then(|a| a.split_once('=')) {
                        self.vars.insert(k.to_string(), v.to_string());
                        if !self.exported.contains(&k.to_string()) {
                            self.exported.push(k.to_string());
                        }
                        i += 1;
                    }
                    if i >= args.len() {
                        for k in &self.exported {
                            if let Some(v) = self.vars.get(k) {
                                o.push_str(&format!("{k}={v}\n"));
                            }
                        }
                        0
                    } else {
                        let mut sub_out = Sink::Buf(String::new());
                        let mut sub_err = Sink::Buf(String::new());
                        let code = self.dispatch(&args[i..], stdin, &mut sub_out, &mut sub_err)?;
                        if let Sink::Buf(b) = sub_out {
                            o.push_str(&b);
                        }
                        if let Sink::Buf(b) = sub_err {
                            e.push_str(&b);
                        }
                        code
                    }
                } else {
                    for k in &self.exported {
                        if let Some(v) = self.vars.get(k) {
                            o.push_str(&format!("{k}={v}\n"));
                        }
                    }
                    0
                }
            }
            "hostname" => {
                o.push_str(&format!("{}\n", self.hostname));
                0
            }
            "date" => {
                let zoned = self.now().to_zoned(TimeZone::UTC);
                let fmt = args
                    .iter()
                    .find_map(|a| a.strip_prefix('+'))
                    .unwrap_or("%a %b %e %H:%M:%S UTC %Y");
                o.push_str(&format!("{}\n", zoned.strftime(fmt)));
                0
            }
            "sleep" => {
                let mut total = 0.0f64;
                for a in args {
                    let (num, mult) = match a.chars().last() {
                        Some('s') => (&a[..a.len() - 1], 1.0),
                        Some('m') => (&a[..a.len() - 1], 60.0),
                        Some('h') => (&a[..a.len() - 1], 3600.0),
                        Some('d') => (&a[..a.len() - 1], 86400.0),
                        _ => (a.as_str(), 1.0),
                    };
                    if a == "infinity" {
                        total = f64::INFINITY;
                    } else {
                        match num.parse::<f64>() {
                            Ok(n) => total += n * mult,
                            Err(_) => {
                                e.push_str(&format!("sleep: invalid time interval '{a}'\n"));
                                self.write(err, true, &e);
                                return Ok(1);
                            }
                        }
                    }
                }
                if total.is_infinite() || total > self.horizon.as_secs_f64() * 2.0 {
                    self.elapsed = self.horizon + SignedDuration::from_secs(1);
                    return Err(Flow::Horizon);
                }
                self.elapsed += super::super::util::secs_f(total);
                if self.elapsed > self.horizon {
                    return Err(Flow::Horizon);
                }
                0
            }
            "pwd" => {
                o.push_str(&format!("{}\n", self.cwd));
                0
            }
            "whoami" => {
                o.push_str("root\n");
                0
            }
            "id" => {
                o.push_str("uid=0(root) gid=0(root) groups=0(root)\n");
                0
            }
            "uname" => {
                if args.iter().any(|a| a == "-a") {
                    o.push_str(&format!(
                        "Linux {} 6.8.0-1027-azure #32~22.04.1-Ubuntu SMP Fri Apr 11 02:30:08 UTC 2025 x86_64 GNU/Linux\n",
                        self.hostname
                    ));
                } else if args.iter().any(|a| a == "-r") {
                    o.push_str("6.8.0-1027-azure\n");
                } else if args.iter().any(|a| a == "-m") {
                    o.push_str("x86_64\n");
                } else {
                    o.push_str("Linux\n");
                }
                0
            }
            "test" | "[" => {
                let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
                if name == "[" {
                    if a.last() != Some(&"]") {
                        e.push_str("[: missing ]\n");
                        self.write(err, true, &e);
                        return Ok(2);
                    }
                    a.pop();
                }
                i32::from(!self.test(&a))
            }
            "grep" => self.grep(args, stdin, &mut o, &mut e),
            "head" | "tail" => {
                let mut n: usize = 10;
                let mut files = Vec::new();
                let mut i = 0;
                while i < args.len() {
                    let a = &args[i];
                    if a == "-n" {
                        n = args.get(i + 1).and_then(|x| x.parse().ok()).unwrap_or(10);
                        i += 1;
                    } else if let Some(num) = a.strip_prefix("-n") {
                        n = num.parse().unwrap_or(10);
                    } else if let Some(num) = a.strip_prefix('-')
                        && let Ok(v) = num.parse()
                    {
                        n = v;
                    } else if !a.starts_with('-') {
                        files.push(a.clone());
                    }
                    i += 1;
                }
                let text = if files.is_empty() {
                    stdin.to_string()
                } else {
                    let mut t = String::new();
                    for f in &files {
                        match self.files.get(&self.resolve(f)) {
                            Some(c) => t.push_str(c),
                            None => {
                                e.push_str(&format!(
                                    "{name}: cannot open '{f}' for reading: No such file or directory\n"
                                ));
                            }
                        }
                    }
                    t
                };
                let lines: Vec<&str> = text.lines().collect();
                let chosen: &[&str] = if name == "head" {
                    &lines[..n.min(lines.len())]
                } else {
                    &lines[lines.len().saturating_sub(n)..]
                };
                for l in chosen {
                    o.push_str(l);
                    o.push('\n');
                }
                i32::from(!e.is_empty())
            }
            "wc" => {
                let text = match args.iter().find(|a| !a.starts_with('-')) {
                    Some(f) => self
                        .files
                        .get(&self.resolve(f))
                        .cloned()
                        .unwrap_or_default(),
                    None => stdin.to_string(),
                };
                let lines = text.matches('\n').count();
                let words = text.split_whitespace().count();
                let chars = text.len();
                let flags: String = args
                    .iter()
                    .filter(|a| a.starts_with('-'))
                    .flat_map(|a| a.chars().skip(1))
                    .collect();
                let mut parts = Vec::new();
                if flags.is_empty() || flags.contains('l') {
                    parts.push(lines.to_string());
                }
                if flags.is_empty() || flags.contains('w') {
                    parts.push(words.to_string());
                }
                if flags.is_empty() || flags.contains('c') {
                    parts.push(chars.to_string());
                }
                o.push_str(&format!("{}\n", parts.join(" ")));
                0
            }
            "touch" => {
                for a in args.iter().filter(|a| !a.starts_with('-')) {
                    let p = self.resolve(a);
                    self.files.entry(p).or_default();
                }
                0
            }
            "mkdir" => {
                for a in args.iter().filter(|a| !a.starts_with('-')) {
                    let p = self.resolve(a);
                    self.dirs.insert(p);
                }
                0
            }
            "rm" => {
                let force = args.iter().any(|a| a.starts_with('-') && a.contains('f'));
                let mut code = 0;
                for a in args.iter().filter(|a| !a.starts_with('-')) {
                    let p = self.resolve(a);
                    if self.files.remove(&p).is_none() && !self.dirs.remove(&p) && !force {
                        e.push_str(&format!(
                            "rm: cannot remove '{a}': No such file or directory\n"
                        ));
                        code = 1;
                    }
                }
                code
            }
            "sort" => {
                let mut lines: Vec<&str> = stdin.lines().collect();
                if args.iter().any(|a| a.contains('n')) {
                    lines.sort_by(|a, b| {
                        let pa = a.trim().parse::<f64>().unwrap_or(0.0);
                        let pb = b.trim().parse::<f64>().unwrap_or(0.0);
                        pa.total_cmp(&pb)
                    });
                } else {
                    lines.sort();
                }
                if args.iter().any(|a| a.starts_with('-') && a.contains('r')) {
                    lines.reverse();
                }
                for l in lines {
                    o.push_str(l);
                    o.push('\n');
                }
                0
            }
            "uniq" => {
                let mut last: Option<&str> = None;
                for l in stdin.lines() {
                    if last != Some(l) {
                        o.push_str(l);
                        o.push('\n');
                    }
                    last = Some(l);
                }
                0
            }
            "cut" => {
                let mut delim = '\t';
                let mut fields: Vec<usize> = Vec::new();
                let mut i = 0;
                while i < args.len() {
                    let a = &args[i];
                    let value = |i: &mut usize, prefix: &str| -> String {
                        if a.len() > prefix.len() {
                            a[prefix.len()..].to_string()
                        } else {
                            *i += 1;
                            args.get(*i).cloned().unwrap_or_default()
                        }
                    };
                    if a.starts_with("-d") {
                        delim = value(&mut i, "-d").chars().next().unwrap_or('\t');
                    } else if a.starts_with("-f") {
                        fields = value(&mut i, "-f")
                            .split(',')
                            .filter_map(|f| f.parse().ok())
                            .collect();
                    }
                    i += 1;
                }
                for l in stdin.lines() {
                    let parts: Vec<&str> = l.split(delim).collect();
                    let chosen: Vec<&str> = fields
                        .iter()
                        .filter_map(|f| parts.get(f.saturating_sub(1)).copied())
                        .collect();
                    o.push_str(&chosen.join(&delim.to_string()));
                    o.push('\n');
                }
                0
            }
            "which" => {
                let mut code = 0;
                for a in args {
                    if is_utility(a) || self.executables.contains(a) || a == "sh" {
                        o.push_str(&format!("/usr/bin/{a}\n"));
                    } else {
                        code = 1;
                    }
                }
                code
            }
            "seq" => {
                let nums: Vec<i64> = args.iter().filter_map(|a| a.parse().ok()).collect();
                let (start, step, end) = match nums.as_slice() {
                    [e] => (1, 1, *e),
                    [s, e] => (*s, 1, *e),
                    [s, st, e] => (*s, *st, *e),
                    _ => (1, 1, 0),
                };
                let mut v = start;
                let mut count = 0;
                while step != 0 && ((step > 0 && v <= end) || (step < 0 && v >= end)) {
                    o.push_str(&format!("{v}\n"));
                    v += step;
                    count += 1;
                    if count > 100_000 {
                        break;
                    }
                }
                0
            }
            "tee" => {
                let append = args.iter().any(|a| a == "-a");
                for a in args.iter().filter(|a| !a.starts_with('-')) {
                    self.write_file(a, stdin, append);
                }
                o.push_str(stdin);
                0
            }
            "ps" => {
                o.push_str("PID   USER     TIME  COMMAND\n");
                o.push_str(&format!("    1 root      0:00 {}\n", self.pid1));
                o.push_str(&format!("   {} root      0:00 ps {}\n", 7, args.join(" ")));
                0
            }
            "kill" => 0,
            "nproc" => {
                o.push_str("8\n");
                0
            }
            "basename" => {
                let a = args.first().cloned().unwrap_or_default();
                let mut b = a
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string();
                if let Some(suffix) = args.get(1)
                    && b.len() > suffix.len()
                {
                    b = b.strip_suffix(suffix.as_str()).unwrap_or(&b).to_string();
                }
                o.push_str(&format!("{b}\n"));
                0
            }
            "dirname" => {
                let a = args.first().cloned().unwrap_or_default();
                o.push_str(&format!("{}\n", parent(&a)));
                0
            }
            "expr" => {
                let v = self.arith(&args.join(" "));
                o.push_str(&format!("{v}\n"));
                i32::from(v == 0)
            }
            "yes" => {
                let word = if args.is_empty() {
                    "y".to_string()
                } else {
                    args.join(" ")
                };
                for _ in 0..1000 {
                    o.push_str(&word);
                    o.push('\n');
                }
                0
            }
            "df" => {
                o.push_str("Filesystem     1K-blocks     Used Available Use% Mounted on\n");
                o.push_str("overlay        102626232 21453284  76713716  22% /\n");
                o.push_str("tmpfs              65536        0     65536   0% /dev\n");
                0
            }
            "free" => {
                o.push_str("               total        used        free      shared  buff/cache   available\n");
                o.push_str("Mem:        32874236     6123456    20123456       12345     6627324    26750780\n");
                o.push_str("Swap:              0           0           0\n");
                0
            }
            "uptime" => {
                let z = self.now().to_zoned(TimeZone::UTC);
                o.push_str(&format!(
                    " {} up 3 days,  4:05,  0 users,  load average: 0.42, 0.38, 0.35\n",
                    z.strftime("%H:%M:%S")
                ));
                0
            }
            "stat" => {
                let mut code = 0;
                for a in args.iter().filter(|a| !a.starts_with('-')) {
                    let p = self.resolve(a);
                    match self.files.get(&p) {
                        Some(c) => o.push_str(&format!(
                            "  File: {a}\n  Size: {}\tBlocks: 8          IO Block: 4096   regular file\n",
                            c.len()
                        )),
                        None if self.is_dir(&p) => o.push_str(&format!(
                            "  File: {a}\n  Size: 4096\tBlocks: 8          IO Block: 4096   directory\n"
                        )),
                        None => {
                            e.push_str(&format!(
                                "stat: cannot statx '{a}': No such file or directory\n"
                            ));
                            code = 1;
                        }
                    }
                }
                code
            }
            _ => {
                let msg = self.not_found_message(name);
                e.push_str(&msg);
                127
            }
        };
        self.write(out, false, &o);
        self.write(err, true, &e);
        Ok(code)
    }

    fn long_line(&self, name: &str, size: usize, dir: bool) -> String {
        let z = self.start.to_zoned(TimeZone::UTC);
        let date = z.strftime("%b %e %H:%M");
        if dir {
            format!("drwxr-xr-x    2 root     root          {size:>5} {date} {name}\n")
        } else {
            format!("-rw-r--r--    1 root     root          {size:>5} {date} {name}\n")
        }
    }

    fn test(&self, a: &[&str]) -> bool {
        match a {
            [] => false,
            ["!", rest @ ..] => !self.test(rest),
            [x] => !x.is_empty(),
            [op, x] => {
                let p = self.resolve(x);
                match *op {
                    "-n" => !x.is_empty(),
                    "-z" => x.is_empty(),
                    "-f" => self.files.contains_key(&p),
                    "-d" => self.is_dir(&p),
                    "-e" => self.files.contains_key(&p) || self.is_dir(&p),
                    "-s" => self.files.get(&p).is_some_and(|c| !c.is_empty()),
                    "-r" | "-w" => self.files.contains_key(&p) || self.is_dir(&p),
                    "-x" => is_utility(x) || self.executables.contains(*x),
                    _ => false,
                }
            }
            [l, op, r] => {
                let num = |s: &str| s.trim().parse::<i64>().unwrap_or(0);
                match *op {
                    "=" | "==" => l == r,
                    "!=" => l != r,
                    "-eq" => num(l) == num(r),
                    "-ne" => num(l) != num(r),
                    "-lt" => num(l) < num(r),
                    "-le" => num(l) <= num(r),
                    "-gt" => num(l) > num(r),
                    "-ge" => num(l) >= num(r),
                    "-a" => !l.is_empty() && !r.is_empty(),
                    "-o" => !l.is_empty() || !r.is_empty(),
                    _ => false,
                }
            }
            _ => {
                if let Some(i) = a.iter().position(|x| *x == "-a") {
                    self.test(&a[..i]) && self.test(&a[i + 1..])
                } else if let Some(i) = a.iter().position(|x| *x == "-o") {
                    self.test(&a[..i]) || self.test(&a[i + 1..])
                } else {
                    false
                }
            }
        }
    }

    fn grep(&self, args: &[String], stdin: &str, o: &mut String, e: &mut String) -> i32 {
        let mut flags = String::new();
        let mut rest = Vec::new();
        let mut pattern: Option<String> = None;
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if a == "-e" {
                pattern = args.get(i + 1).cloned();
                i += 1;
            } else if a.starts_with('-') && a.len() > 1 {
                flags.push_str(&a[1..]);
            } else {
                rest.push(a.clone());
            }
            i += 1;
        }
        let pattern = match pattern {
            Some(p) => p,
            None if !rest.is_empty() => rest.remove(0),
            None => {
                e.push_str("Usage: grep [OPTION]... PATTERNS [FILE]...\n");
                return 2;
            }
        };
        let ignore = flags.contains('i');
        let invert = flags.contains('v');
        let count = flags.contains('c');
        let quiet = flags.contains('q');
        let numbers = flags.contains('n');
        let alternatives: Vec<String> = if flags.contains('E') {
            pattern.split('|').map(str::to_string).collect()
        } else {
            pattern.split("\\|").map(str::to_string).collect()
        };
        let matches = |line: &str| -> bool {
            alternatives.iter().any(|p| {
                let (mut p, mut l) = (p.clone(), line.to_string());
                if ignore {
                    p = p.to_lowercase();
                    l = l.to_lowercase();
                }
                let anchored_start = p.starts_with('^');
                let anchored_end = p.ends_with('$') && p.len() > 1;
                let core = p
                    .trim_start_matches('^')
                    .trim_end_matches('$')
                    .replace(".*", "\u{0}");
                let parts: Vec<&str> = core.split('\u{0}').collect();
                if parts.len() == 1 {
                    match (anchored_start, anchored_end) {
                        (true, true) => l == core,
                        (true, false) => l.starts_with(&core),
                        (false, true) => l.ends_with(&core),
                        (false, false) => l.contains(&core),
                    }
                } else {
                    let mut pos = 0;
                    for (k, part) in parts.iter().enumerate() {
                        match l[pos..].find(part) {
                            Some(f) if !(k == 0 && anchored_start && f != 0) => {
                                pos += f + part.len()
                            }
                            _ => return false,
                        }
                    }
                    !anchored_end || parts.last().is_some_and(|last| l.ends_with(last))
                }
            }) != invert
        };
        let mut inputs: Vec<(String, String)> = Vec::new();
        if rest.is_empty() {
            inputs.push((String::new(), stdin.to_string()));
        } else {
            for f in &rest {
                match self.files.get(&self.resolve(f)) {
                    Some(c) => inputs.push((f.clone(), c.clone())),
                    None => e.push_str(&format!("grep: {f}: No such file or directory\n")),
                }
            }
        }
        let prefix_names = inputs.len() > 1;
        let mut total = 0;
        for (fname, text) in &inputs {
            let mut n = 0;
            for (ln, line) in text.lines().enumerate() {
                if matches(line) {
                    n += 1;
                    if !count && !quiet {
                        if prefix_names {
                            o.push_str(&format!("{fname}:"));
                        }
                        if numbers {
                            o.push_str(&format!("{}:", ln + 1));
                        }
                        o.push_str(line);
                        o.push('\n');
                    }
                }
            }
            if count {
                if prefix_names {
                    o.push_str(&format!("{fname}:"));
                }
                o.push_str(&format!("{n}\n"));
            }
            total += n;
        }
        if !e.is_empty() && total == 0 {
            2
        } else {
            i32::from(total == 0)
        }
    }
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('c') => break,
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn printf(fmt: &str, args: &[String]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let fmt = unescape(fmt);
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // Skip flags/width.
        let mut spec = String::new();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_digit() || n == '-' || n == '.' {
                spec.push(n);
                chars.next();
            } else {
                break;
            }
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s') | Some('d') | Some('i') | Some('u') | Some('f') | Some('x') => {
                let v = args.next().cloned().unwrap_or_default();
                let width: usize = spec.trim_start_matches('-').parse().unwrap_or(0);
                if spec.starts_with('-') {
                    out.push_str(&format!("{v:<width$}"));
                } else {
                    out.push_str(&format!("{v:>width$}"));
                }
            }
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

/// How a script run ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RunEnd {
    /// It exited with this code after this much time.
    Exited(i32, SignedDuration),
    /// It was still running at the horizon.
    Forever,
}

impl<'a> Machine<'a> {
    /// Runs `argv` as a container's main process: a shell script or a utility.
    pub(crate) fn run_main(&mut self, argv: &[String]) -> RunEnd {
        if argv.is_empty() {
            return RunEnd::Exited(0, SignedDuration::ZERO);
        }
        let mut out = Sink::Top;
        let mut err = Sink::Top;
        let r = self.dispatch(argv, "", &mut out, &mut err);
        match r {
            Ok(code) | Err(Flow::Exit(code)) => RunEnd::Exited(code, self.elapsed),
            Err(Flow::Break) | Err(Flow::Continue) => RunEnd::Exited(0, self.elapsed),
            Err(Flow::Horizon) => RunEnd::Forever,
        }
    }

    /// Runs `argv` as `kubectl exec` does (no shell unless argv names one).
    pub(crate) fn run_exec(&mut self, argv: &[String], stdin: &str) -> ExecOutput {
        let mut out = Sink::Buf(String::new());
        let mut err = Sink::Buf(String::new());
        let code = match self.dispatch(argv, stdin, &mut out, &mut err) {
            Ok(c) | Err(Flow::Exit(c)) => c,
            Err(Flow::Horizon) => 0,
            Err(_) => 0,
        };
        let take = |s: Sink| match s {
            Sink::Buf(b) => b.into_bytes(),
            Sink::Top => Vec::new(),
        };
        ExecOutput {
            stdout: take(out),
            stderr: take(err),
            exit_code: code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(kind: ShellKind) -> Machine<'static> {
        let mut files = BTreeMap::new();
        files.insert(
            "/etc/config/app.conf".to_string(),
            "port=8080\n".to_string(),
        );
        Machine::new(Setup {
            env: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("HOSTNAME".into(), "web-1".into()),
                ("GREETING".into(), "hi there".into()),
            ],
            files,
            kind,
            utilities: true,
            executables: vec![],
            hostname: "web-1".into(),
            start: "2026-01-01T00:00:00Z".parse().unwrap(),
            horizon: SignedDuration::from_hours(24),
            hook: None,
            pid1: "sleep 3600".into(),
        })
    }

    fn sh(m: &mut Machine<'_>, script: &str) -> (String, String, i32) {
        let out = m.run_exec(&["sh".into(), "-c".into(), script.into()], "");
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
            out.exit_code,
        )
    }

    #[test]
    fn sequences_pipes_and_variables() {
        let mut m = machine(ShellKind::Dash);
        assert_eq!(
            sh(&mut m, "echo $GREETING; echo \"$GREETING\"").0,
            "hi there\nhi there\n"
        );
        assert_eq!(sh(&mut m, "false && echo no || echo yes").0, "yes\n");
        assert_eq!(
            sh(&mut m, "cat /etc/config/app.conf | grep port").0,
            "port=8080\n"
        );
        assert_eq!(sh(&mut m, "X=3; echo $((X * 2 + 1))").0, "7\n");
        assert_eq!(sh(&mut m, "echo $(hostname)-x").0, "web-1-x\n");
        assert_eq!(sh(&mut m, "for i in 1 2 3; do echo -n $i; done").0, "123");
        assert_eq!(
            sh(&mut m, "if [ -f /etc/config/app.conf ]; then echo yes; fi").0,
            "yes\n"
        );
        assert_eq!(sh(&mut m, "exit 3").2, 3);
        assert_eq!(sh(&mut m, "ls /etc/config").0, "app.conf\n");
    }

    #[test]
    fn files_persist_and_redirects_work() {
        let mut m = machine(ShellKind::Dash);
        sh(&mut m, "echo one > /tmp/f; echo two >> /tmp/f");
        assert_eq!(sh(&mut m, "cat /tmp/f").0, "one\ntwo\n");
        assert_eq!(sh(&mut m, "cat /nope 2>/dev/null; echo $?").0, "1\n");
        let (o, _, _) = sh(&mut m, "cat /nope 2>&1");
        assert_eq!(o, "cat: /nope: No such file or directory\n");
    }

    #[test]
    fn unknown_commands_fail_like_the_shell() {
        let mut m = machine(ShellKind::Dash);
        assert_eq!(sh(&mut m, "foo").1, "sh: 1: foo: not found\n");
        assert_eq!(sh(&mut m, "foo").2, 127);
        let mut b = machine(ShellKind::Ash);
        assert_eq!(sh(&mut b, "foo").1, "sh: foo: not found\n");
        let out = m.run_exec(&["bash".into(), "-c".into(), "foo".into()], "");
        // No bash in this image: direct exec of a missing program.
        assert_eq!(out.exit_code, 127);
    }

    #[test]
    fn scripts_take_virtual_time() {
        let mut m = machine(ShellKind::Ash);
        let end = m.run_main(&[
            "sh".into(),
            "-c".into(),
            "echo start; sleep 5; echo done; exit 2".into(),
        ]);
        assert_eq!(end, RunEnd::Exited(2, SignedDuration::from_secs(5)));
        assert_eq!(m.chunks.len(), 2);
        assert_eq!(m.chunks[1].at, SignedDuration::from_secs(5));
        assert_eq!(m.chunks[1].text, "done\n");
        let mut f = machine(ShellKind::Ash);
        let end = f.run_main(&[
            "sh".into(),
            "-c".into(),
            "while true; do echo tick; sleep 600; done".into(),
        ]);
        assert_eq!(end, RunEnd::Forever);
        assert!(f.chunks.len() > 100);
    }

    #[test]
    fn syntax_errors_are_reported() {
        let mut m = machine(ShellKind::Dash);
        let (_, e, code) = sh(&mut m, "if true; then echo");
        assert_eq!(code, 2);
        assert!(e.starts_with("sh: 1: Syntax error"), "{e}");
    }
}
