"""The commands that apply a render: printed by `invoke deploy.render`, shown in the docs.

Kubernetes and Cloud Run cannot run where this project is developed, so these commands are
the part of the deploy a person runs. docs/deploying.md shows each script in a code block
after a `<!-- commands: TARGET [OVERLAY] -->` marker, and a unit test holds every block equal
to what `script()` returns here: the docs cannot drift from what the task prints.

Secrets always come from files or standard input, never from a command-line literal (which
would stay in the shell history and in `ps`).
"""

from __future__ import annotations

from typing import Final

SERVICE: Final = "gemini-service"
ROLLOUT_TIMEOUT: Final = "180s"
"""The Deployment's progressDeadlineSeconds: `rollout status` fails when Kubernetes gives up."""
TRY_NAMESPACE: Final = "gemini-service-try"
"""The fake-upstream overlay brings a placeholder key Secret: keep it out of a real namespace."""
SA: Final = f"serviceAccount:{SERVICE}@$PROJECT.iam.gserviceaccount.com"
ON_PROJECT: Final = '--project="$PROJECT"'
IN_REGION: Final = f'{ON_PROJECT} --region="$REGION"'
PROMPT: Final = """-H 'Content-Type: application/json' -d '{"prompt": "Hello"}'"""


def script(target: str, overlay: str, render_dir: str, client_keys: str) -> list[str]:
    """The lines to run after rendering TARGET (and OVERLAY), comments included."""
    if target == "cloudrun":
        return cloudrun(render_dir, client_keys)
    return kubernetes(render_dir, overlay or "base", client_keys)


def kubernetes(render_dir: str, overlay: str, client_keys: str) -> list[str]:
    """Secrets from files, apply by digest, wait, try it, change client keys, roll back."""
    folder = "base" if overlay == "base" else f"overlays/{overlay}"
    deployment = f"deployment/{SERVICE}"
    wait = f"kubectl rollout status {deployment} --timeout={ROLLOUT_TIMEOUT}"
    client_secret = (
        f"kubectl create secret generic gemini-client-keys --from-file=client-keys={client_keys}"
    )
    if overlay == "base":
        first = [
            "# The Gemini key (from the environment, never a file in the repo) and the client",
            "# keys (one per line), as the two Secrets the pods mount as files:",
            """printf '%s' "$GEMINI_API_KEY" | kubectl create secret generic gemini-api-key"""
            " --from-file=api-key=/dev/stdin",
            client_secret,
        ]
    else:
        first = [
            "# A namespace of its own: this overlay brings a placeholder gemini-api-key Secret.",
            f"kubectl create namespace {TRY_NAMESPACE}",
            f"kubectl config set-context --current --namespace={TRY_NAMESPACE}",
            "# The client keys (one per line) as a Secret; the fake takes any Gemini key:",
            client_secret,
        ]
    return [
        *first,
        "# The release, by digest; wait until the new pods are ready (fails after 180 s):",
        f"kubectl apply -k {render_dir}/kubernetes/{folder}",
        wait,
        "# Try it (port-forward in a second terminal):",
        f"kubectl port-forward service/{SERVICE} 8080:80",
        f'curl -s localhost:8080/generate -H "Authorization: Bearer $(head -1 {client_keys})"'
        f" {PROMPT}",
        "# Client keys added or revoked: replace the Secret. The kubelet updates the mounted",
        "# file within a minute or two and the service reloads it: no restart, no rebuild.",
        f"{client_secret} --dry-run=client -o yaml | kubectl apply -f -",
        "# A bad release: back to the previous one.",
        f"kubectl rollout undo {deployment}",
        wait,
    ]


def cloudrun(render_dir: str, client_keys: str) -> list[str]:
    """Identity and secrets once, replace by digest, grant invokers, call, roll back."""
    accessor = f'--member="{SA}" --role=roles/secretmanager.secretAccessor'
    return [
        "# Once per project: the service's own identity, and the two secrets it may read.",
        f"gcloud iam service-accounts create {SERVICE} {ON_PROJECT}",
        """printf '%s' "$GEMINI_API_KEY" | gcloud secrets create gemini-api-key"""
        f" {ON_PROJECT} --data-file=-",
        f"gcloud secrets create gemini-client-keys {ON_PROJECT} --data-file={client_keys}",
        f"gcloud secrets add-iam-policy-binding gemini-api-key {ON_PROJECT} {accessor}",
        f"gcloud secrets add-iam-policy-binding gemini-client-keys {ON_PROJECT} {accessor}",
        "# Every release: the rendered service, by digest. It stays private: no one may call",
        "# it until granted roles/run.invoker below.",
        f"gcloud run services replace {render_dir}/cloudrun/service.yaml {IN_REGION}",
        "# Who may reach it at all (IAM): one binding per caller.",
        f"gcloud run services add-iam-policy-binding {SERVICE} {IN_REGION}"
        ' --member="user:$CALLER" --role=roles/run.invoker',
        "# A call: the IAM identity token in X-Serverless-Authorization, the client key in",
        "# Authorization (Cloud Run checks the first and passes the second to the service).",
        f"curl -s \"$(gcloud run services describe {SERVICE} {IN_REGION} --format='value"
        "(status.url)')/generate\""
        ' -H "X-Serverless-Authorization: Bearer $(gcloud auth print-identity-token)"'
        f' -H "Authorization: Bearer $(head -1 {client_keys})" {PROMPT}',
        "# Client keys added or revoked: a new version of the secret. The service mounts",
        "# `latest`, which Cloud Run fetches whenever the file is read.",
        f"gcloud secrets versions add gemini-client-keys {ON_PROJECT} --data-file={client_keys}",
        "# A bad release: every request back to the previous revision.",
        f"gcloud run revisions list --service={SERVICE} {IN_REGION}",
        f'gcloud run services update-traffic {SERVICE} {IN_REGION} --to-revisions="$REVISION=100"',
    ]
