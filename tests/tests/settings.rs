//! The deployment files and the docs set and name only settings the services really read.

use std::collections::{BTreeMap, BTreeSet};

use clap::CommandFactory;
use imagepipe_ingest::IngestConfig;
use imagepipe_processor::ProcessorConfig;
use imagepipe_result_writer::ResultWriterConfig;
use serde::Deserialize;
use serde_json::Value;

fn env_names(command: clap::Command) -> BTreeSet<String> {
    command
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

/// What each image-running service of ours reads.
fn settings() -> BTreeMap<&'static str, BTreeSet<String>> {
    BTreeMap::from([
        ("ingest", env_names(IngestConfig::command())),
        ("processor", env_names(ProcessorConfig::command())),
        ("result-writer", env_names(ResultWriterConfig::command())),
        // sea-orm-migration's CLI.
        (
            "migrate",
            BTreeSet::from(["DATABASE_URL".to_owned(), "DATABASE_SCHEMA".to_owned()]),
        ),
    ])
}

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn every_variable_docker_compose_sets_is_read_by_its_service() {
    let compose: serde_json::Value =
        serde_norway::from_str(&repo_file("docker-compose.yml")).unwrap();
    let settings = settings();
    let mut checked = 0;
    for (service, reads) in &settings {
        let environment = compose["services"][service]["environment"]
            .as_object()
            .unwrap_or_else(|| panic!("service {service} has an environment map"));
        for name in environment.keys() {
            assert!(
                reads.contains(name),
                "docker-compose.yml sets {name} on {service}, which does not read it"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "checked only {checked} variables");
}

/// Every document of every YAML file under deploy/k8s, with its file. All files, not only
/// what one kustomization renders: an overlay's patch that adds a variable is checked too.
fn k8s_documents() -> Vec<(String, Value)> {
    let repo = std::path::PathBuf::from(format!("{}/..", env!("CARGO_MANIFEST_DIR")));
    let mut folders = vec![repo.join("deploy/k8s")];
    let mut files = Vec::new();
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut documents = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for document in serde_norway::Deserializer::from_str(&text) {
            let value = Value::deserialize(document)
                .unwrap_or_else(|err| panic!("{} is not valid YAML: {err}", path.display()));
            if !value.is_null() {
                let file = path.strip_prefix(&repo).unwrap_or(&path);
                documents.push((file.display().to_string(), value));
            }
        }
    }
    documents
}

/// Which of our programs a container runs. The image holds all of them and the command picks
/// one, so the command decides; a patch may leave it out, and then the container's name does.
fn program_of(container: &Value) -> &'static str {
    let program = container["command"][0]
        .as_str()
        .or_else(|| container["name"].as_str())
        .unwrap();
    match program {
        "imagepipe-ingest" | "ingest" => "ingest",
        "imagepipe-processor" | "processor" => "processor",
        "imagepipe-result-writer" | "result-writer" => "result-writer",
        "migration" | "migrate" => "migrate",
        other => panic!("a container runs {other:?}, which is none of imagepipe's programs"),
    }
}

/// The variables a container gets: its `env` names, and every key of the ConfigMaps and
/// Secrets it takes whole with `envFrom` (those keys become variables too).
fn variables_of(container: &Value, documents: &[(String, Value)]) -> Vec<String> {
    let mut names: Vec<String> = container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|var| var["name"].as_str().unwrap().to_owned())
        .collect();
    for source in container["envFrom"].as_array().into_iter().flatten() {
        let prefix = source["prefix"].as_str().unwrap_or_default();
        for (kind, field) in [("ConfigMap", "configMapRef"), ("Secret", "secretRef")] {
            let Some(wanted) = source[field]["name"].as_str() else {
                continue;
            };
            // The base's object and any overlay's patch of it: every key counts.
            let objects: Vec<&Value> = documents
                .iter()
                .map(|(_, doc)| doc)
                .filter(|doc| doc["kind"] == kind && doc["metadata"]["name"] == wanted)
                .collect();
            assert!(
                !objects.is_empty(),
                "envFrom names {kind} {wanted}, which is not in deploy/k8s"
            );
            for object in objects {
                for data in ["data", "stringData"] {
                    let keys = object[data].as_object().into_iter().flatten();
                    names.extend(keys.map(|(key, _)| format!("{prefix}{key}")));
                }
            }
        }
    }
    names
}

/// The Kubernetes manifests must not set a variable nobody reads: a misspelt or retired
/// name would be silently ignored, and the setting it was meant to change would keep its
/// default in production.
#[test]
fn every_variable_the_kubernetes_manifests_set_is_read_by_its_service() {
    let documents = k8s_documents();
    let settings = settings();
    let mut programs = BTreeSet::new();
    let mut checked = 0;
    for (file, doc) in &documents {
        let Some(pod) = doc
            .pointer("/spec/template/spec")
            .or_else(|| doc.pointer("/spec/jobTemplate/spec/template/spec"))
        else {
            continue;
        };
        let containers = ["containers", "initContainers"]
            .into_iter()
            .flat_map(|field| pod[field].as_array().into_iter().flatten());
        for container in containers {
            let program = program_of(container);
            programs.insert(program);
            for name in variables_of(container, &documents) {
                assert!(
                    settings[program].contains(&name),
                    "{file}: {} {} sets {name} for {program}, which does not read it",
                    doc["kind"].as_str().unwrap_or_default(),
                    doc["metadata"]["name"].as_str().unwrap_or_default(),
                );
                checked += 1;
            }
        }
    }
    // Guard against checking nothing (a moved folder, a renamed field).
    assert_eq!(
        programs,
        settings.keys().copied().collect(),
        "not every program has a container in deploy/k8s"
    );
    assert!(checked >= 40, "checked only {checked} variables");
}

#[test]
fn the_readme_documents_every_setting() {
    let readme = repo_file("README.md");
    for (service, reads) in settings() {
        for name in reads {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README.md does not document {name} (read by {service})"
            );
        }
    }
}
