"""Workflows written by hand, as a user would, for the executor's tests (unit and end to end)."""

from pathlib import Path

DIAMOND = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: diamond
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: greeting
      value: hello
  templates:
  - name: main
    dag:
      tasks:
      - name: A
        template: echo
        arguments: {parameters: [{name: text, value: "{{workflow.parameters.greeting}}"}]}
      - name: B
        depends: A
        template: echo
        arguments: {parameters: [{name: text, value: "{{tasks.A.outputs.parameters.out}} world"}]}
      - name: C
        depends: A
        template: fail
      - name: D
        depends: "B.Succeeded || C.Failed"
        template: echo
        arguments: {parameters: [{name: text, value: "D saw {{tasks.B.outputs.parameters.out}}"}]}
      - name: never
        depends: A
        when: "'{{tasks.A.outputs.parameters.out}}' == 'goodbye'"
        template: echo
        arguments: {parameters: [{name: text, value: unused}]}
      - name: flaky
        template: flaky
      - name: remote
        depends: D && flaky
        templateRef: {name: library, template: upper}
        arguments: {parameters: [{name: text, value: "{{tasks.D.outputs.parameters.out}}"}]}
      - name: last
        depends: remote
        template: echo
        arguments: {parameters: [{name: text, value: "{{tasks.remote.outputs.parameters.shouted}}"}]}
  - name: echo
    inputs: {parameters: [{name: text}]}
    container:
      image: busybox:1.36
      command: [sh, -c]
      args: ["printf '%s' '{{inputs.parameters.text}}' > /tmp/out.txt"]
    outputs: {parameters: [{name: out, valueFrom: {path: /tmp/out.txt}}]}
  - name: fail
    container: {image: busybox:1.36, command: [sh, -c], args: ["echo failing on purpose; exit 3"]}
  - name: flaky
    retryStrategy: {limit: 2}
    container:
      image: busybox:1.36
      command: [sh, -c]
      args: ["if [ -f tried ]; then echo second try; else touch tried; echo first try fails; exit 1; fi"]
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: library
spec:
  templates:
  - name: upper
    inputs: {parameters: [{name: text}]}
    container:
      image: python:3.11-slim
      command: [python, -c]
      args: ["import sys; open('/tmp/shout', 'w').write(sys.argv[1].upper())", "{{inputs.parameters.text}}"]
    outputs: {parameters: [{name: shouted, valueFrom: {path: /tmp/shout}}]}
"""

CHAIN = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: chain
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: gate-file}
    - {name: counter}
  templates:
  - name: main
    dag:
      tasks:
      - {name: first, template: count}
      - {name: second, depends: first, template: gated}
      - {name: third, depends: second, template: count}
  - name: count
    container:
      image: busybox:1.36
      command: [sh, -c]
      args: ["echo x >> {{workflow.parameters.counter}}"]
  - name: gated
    container:
      image: busybox:1.36
      command: [sh, -c]
      args: ["test -f {{workflow.parameters.gate-file}} || { echo gate closed; exit 4; }"]
"""


HELLO = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  generateName: hello-
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: message, value: hello}
  templates:
  - name: main
    inputs: {parameters: [{name: message}]}
    container: {image: busybox, command: [echo], args: ["{{inputs.parameters.message}}"]}
"""

REF = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: ref-
spec:
  arguments:
    parameters:
    - {name: message, value: from the workflow}
  workflowTemplateRef: {name: hello-template}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: hello-template
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: message, value: from the template}
  templates:
  - name: main
    inputs: {parameters: [{name: message}]}
    container: {image: busybox, command: [echo], args: ["{{inputs.parameters.message}}"]}
"""


def workflows_dir(root: Path, **files: str) -> Path:
    """root/wf holding one <name>.yaml per keyword."""
    directory = root / "wf"
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
    return directory


FEATURES = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: features-
spec:
  entrypoint: main
  onExit: exit
  parallelism: 4
  templateDefaults:
    retryStrategy: {limit: 1}
  arguments:
    parameters:
    - {name: n, value: "3"}
  templates:
  - name: main
    inputs: {parameters: [{name: n}]}
    steps:
    - - {name: never, template: say, when: "false", arguments: {parameters: [{name: m, value: never}]}}
      - {name: flaky, template: flaky}
      - {name: count, template: script}
      - {name: slow, template: slow, continueOn: {failed: true}}
      - {name: pause, template: pause}
    - - name: loop
        template: say
        arguments: {parameters: [{name: m, value: "{{item}}-{{steps.count.outputs.result}}"}]}
        withSequence: {count: "{{inputs.parameters.n}}"}
      - name: art
        template: read
        arguments: {artifacts: [{name: f, from: "{{steps.count.outputs.artifacts.file}}"},
                                {name: r, raw: {data: "raw {{workflow.name}}"}}]}
    - - name: sum
        template: say
        arguments: {parameters: [{name: m, value: "{{=toJson(map(fromJSON(steps.loop.outputs.parameters.said),
                                                   {# + '!'}))}}
                                                   {{steps.flaky.exitCode}} {{steps.slow.status}}"}]}
    - - {name: targeted, template: targeted}
  - name: say
    inputs: {parameters: [{name: m}]}
    container: {image: busybox, command: [sh, -c], args: ["echo '{{inputs.parameters.m}}' > /tmp/said"]}
    outputs: {parameters: [{name: said, valueFrom: {path: /tmp/said}}]}
  - name: flaky
    container:
      image: busybox
      command: [sh, -c]
      args: ["echo attempt {{retries}}; test {{retries}} = 1"]
  - name: script
    script:
      image: python:alpine3.23
      command: [python]
      source: |
        open("/tmp/file", "w").write("from count")
        print(2)
    outputs:
      artifacts: [{name: file, path: /tmp/file}]
      parameters: [{name: g, valueFrom: {path: /tmp/file}, globalName: counted}]
  - name: slow
    timeout: 1s
    retryStrategy: {limit: 0}
    container: {image: busybox, command: [sleep, "30"]}
  - name: pause
    suspend: {duration: "1"}
  - name: read
    inputs: {artifacts: [{name: f, path: /in/f}, {name: r, path: /in/r}]}
    container: {image: busybox, command: [sh, -c], args: ["cat /in/f /in/r"]}
  - name: targeted
    dag:
      target: B
      tasks:
      - {name: A, template: say, arguments: {parameters: [{name: m, value: a}]}}
      - {name: B, template: say, depends: A, arguments: {parameters: [{name: m, value: b}]}}
      - {name: C, template: say, arguments: {parameters: [{name: m, value: c}]}}
  - name: exit
    container:
      image: busybox
      command: [sh, -c]
      args: ["echo {{workflow.status}} {{workflow.outputs.parameters.counted}} {{workflow.duration}}; exit 3"]
"""
