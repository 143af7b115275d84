use super::{file::read_labels, *};
use crate::steps::parse_steps;

/// A folder with a labels file, for the files below.
fn folder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imagepipe-models-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("colours.txt"), "red\ngreen\r\nblue\n").unwrap();
    dir
}

const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF";

fn good() -> String {
    format!(
        r#"
[models.colours]
runtime = "onnx"
path = "colours.onnx"
sha256 = "{SHA}"
[models.colours.input]
tensor = "pixels"
width = 32
height = 24
fit = "contain"
mean = [0.5, 0.5, 0.5]
std = [0.5, 0.5, 0.5]
[models.colours.report]
kind = "classes"
labels = "colours.txt"
top_k = 2

[models.means]
runtime = "onnx"
path = "/abs/means.onnx"
sha256 = "{SHA}"
[models.means.input]
tensor = "image"
width = 16
height = 16
layout = "nhwc"
dtype = "uint8"
channels = "bgr"
[models.means.report]
kind = "raw"
"#
    )
}

fn refusal(text: &str) -> String {
    DeclaredModels::from_toml(text, &folder()).expect_err("refused")
}

#[test]
fn a_models_file_reads_with_defaults_and_paths_beside_it() {
    let dir = folder();
    let models = DeclaredModels::from_toml(&good(), &dir).unwrap();
    let colours = models.get("colours").unwrap();
    assert_eq!(
        colours.runtime,
        ModelRuntime::Onnx {
            path: dir.join("colours.onnx"),
            sha256: SHA.to_ascii_lowercase()
        }
    );
    assert_eq!(colours.input.fit, InputFit::Contain);
    assert_eq!(colours.input.layout, TensorLayout::Nchw);
    assert_eq!(colours.input.dtype, InputDtype::Float32);
    assert_eq!(
        colours.report,
        ReportSpec::Classes {
            output: None,
            top_k: 2,
            labels: vec!["red".into(), "green".into(), "blue".into()],
            softmax: true
        }
    );
    let means = models.get("means").unwrap();
    assert!(
        matches!(&means.runtime, ModelRuntime::Onnx { path, .. } if path == Path::new("/abs/means.onnx"))
    );
    assert_eq!(means.input.mean, [0.0; 3]);
    assert_eq!(means.input.std, [1.0; 3]);
    assert_eq!(
        (means.input.channels, means.input.fit),
        (ChannelOrder::Bgr, InputFit::Fill)
    );
    assert_eq!(
        means.report,
        ReportSpec::Raw {
            outputs: None,
            max_values: DEFAULT_MAX_VALUES
        }
    );
    assert!(DeclaredModels::load(None).unwrap().is_empty());
}

#[test]
fn a_bad_models_file_names_the_model_and_the_field() {
    let good = good();
    for (from, to, says) in [
        (
            r#"runtime = "onnx"
path = "colours.onnx""#,
            r#"runtime = "oip"
path = "colours.onnx""#,
            "model `colours`: path: not a field of an oip model",
        ),
        ("width = 32", "width = 0", "model `colours`: input.width"),
        (
            "std = [0.5, 0.5, 0.5]",
            "std = [0.5, 0, 0.5]",
            "model `colours`: input.std",
        ),
        ("top_k = 2", "top_k = 0", "model `colours`: report.top_k"),
        (
            r#"labels = "colours.txt""#,
            r#"labels = "nope.txt""#,
            "report.labels: cannot read",
        ),
        (
            r#"kind = "raw""#,
            "kind = \"raw\"\nmax_values = 0",
            "model `means`: report.max_values",
        ),
        (
            r#"channels = "bgr""#,
            "channels = \"bgr\"\nmean = [1, 1, 1]",
            "model `means`: input.mean, std",
        ),
        (r#"fit = "contain""#, r#"fit = "squash""#, "squash"),
        (r#"kind = "raw""#, r#"kind = "boxes""#, "boxes"),
        ("top_k = 2", "top_k = 2\ncolour = true", "colour"),
    ] {
        assert!(good.contains(from), "{from}");
        let err = refusal(&good.replacen(from, to, 1));
        assert!(err.contains(says), "{to}: {err}");
    }
    let err = refusal(&good.replacen(&format!("sha256 = \"{SHA}\""), "sha256 = \"abc\"", 1));
    assert!(err.contains("model `colours`: sha256"), "{err}");
    let err = refusal(&good.replacen("path = \"colours.onnx\"\n", "", 1));
    assert!(err.contains("model `colours`: path"), "{err}");
    let err = refusal(&good.replace("models.means", "models.\"bad name\""));
    assert!(err.contains("model `bad name`: a model's name"), "{err}");
    let err = refusal(&good.replacen("tensor = \"pixels\"\n", "", 1));
    assert!(err.contains("tensor"), "{err}");
}

#[test]
fn labels_are_one_per_line_none_empty() {
    assert_eq!(read_labels("a\nb").unwrap(), ["a", "b"]);
    assert_eq!(read_labels("a\r\nb\r\n").unwrap(), ["a", "b"]);
    assert!(read_labels("a\n\nb\n").unwrap_err().contains("line 2"));
}

#[test]
fn an_undeclared_model_is_unknown_model_at_its_step() {
    let models = DeclaredModels::from_toml(&good(), &folder()).unwrap();
    let steps = parse_steps(
        br#"[{"op":"infer","model":"colours"},{"op":"grayscale"},{"op":"infer","model":"nope"}]"#,
    )
    .unwrap();
    let err = models.check(&steps, "/steps").unwrap_err();
    assert_eq!(err.code, ErrorCode::UnknownModel);
    assert_eq!(err.problems.len(), 1);
    assert_eq!(err.problems[0].pointer, "/steps/2/model");
    assert!(err.problems[0].detail.contains("colours, means"), "{err}");
    let none = DeclaredModels::default()
        .check(&steps, "/steps")
        .unwrap_err();
    assert!(none.problems[0].detail.contains("MODELS_FILE"), "{none}");
    assert_eq!(none.problems[0].pointer, "/steps/0/model");
}

/// `good()` with `colours` on a model server, `fields` in place of its file.
fn served(fields: &str) -> String {
    good().replacen(
        &format!("runtime = \"onnx\"\npath = \"colours.onnx\"\nsha256 = \"{SHA}\""),
        &format!("runtime = \"oip\"\n{fields}"),
        1,
    )
}

#[test]
fn a_model_on_a_server_reads_with_its_name_and_timeout_by_default() {
    let models = DeclaredModels::from_toml(&served("url = \"http://mlserver:8080\""), &folder())
        .expect("read");
    let ModelRuntime::Oip(server) = &models.get("colours").unwrap().runtime else {
        panic!("an oip model");
    };
    assert_eq!(server.model, "colours");
    assert_eq!(server.version, None);
    assert_eq!(
        server.timeout,
        Duration::from_millis(DEFAULT_SERVER_TIMEOUT_MS)
    );
    assert_eq!(
        server.model_url().as_str(),
        "http://mlserver:8080/v2/models/colours"
    );
    assert_eq!(
        server.infer_url().as_str(),
        "http://mlserver:8080/v2/models/colours/infer"
    );
}

#[test]
fn a_servers_path_prefix_is_kept_and_names_are_encoded() {
    let text = served(
        "url = \"https://gpu.example/kserve/\"\nmodel = \"colours v2\"\nversion = \"3\"\ntimeout_ms = 500",
    );
    let models = DeclaredModels::from_toml(&text, &folder()).expect("read");
    let ModelRuntime::Oip(server) = &models.get("colours").unwrap().runtime else {
        panic!("an oip model");
    };
    assert_eq!(server.timeout, Duration::from_millis(500));
    assert_eq!(
        server.infer_url().as_str(),
        "https://gpu.example/kserve/v2/models/colours%20v2/versions/3/infer"
    );
}

#[test]
fn a_bad_model_server_declaration_names_the_field() {
    for (fields, says) in [
        ("", "model `colours`: url: an oip model needs"),
        (
            "url = \"mlserver:8080\"",
            "url: `mlserver:8080`: an http(s) base URL",
        ),
        ("url = \"ftp://mlserver\"", "an http(s) base URL"),
        ("url = \"http://mlserver/?a=1\"", "no query or fragment"),
        ("url = \"not a url\"", "url: `not a url` is not a URL"),
        (
            "url = \"http://m\"\nmodel = \"a/b\"",
            "model: 1 to 256 characters",
        ),
        (
            "url = \"http://m\"\nversion = \"\"",
            "version: 1 to 256 characters",
        ),
        (
            "url = \"http://m\"\ntimeout_ms = 0",
            "timeout_ms: from 1 to",
        ),
        (
            &format!("url = \"http://m\"\nsha256 = \"{SHA}\""),
            "sha256: not a field of an oip model",
        ),
    ] {
        let err = refusal(&served(fields));
        assert!(err.contains(says), "{fields}: {err}");
    }
    let err = refusal(&good().replacen(
        "path = \"colours.onnx\"",
        "path = \"colours.onnx\"\nurl = \"http://m\"",
        1,
    ));
    assert!(
        err.contains("model `colours`: url: not a field of an onnx model"),
        "{err}"
    );
}
