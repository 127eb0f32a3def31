#!/bin/sh
# Stands in for the GWAS workflow's Lambda functions (seed 004) in the seed cases, bound to
# arn:aws:states:::lambda:invoke: dispatches on the request's FunctionName, appends that
# name to $CASE_TMP/calls and prints a lambda:invoke-style result {"StatusCode", "Payload"}.
# The command parser's commands run as local Batch jobs; $1 names a chromosome whose step-2
# job fails.
fail_chromosome=${1:-}
in=$(cat | tr -d '\n')
field() {
  printf '%s' "$in" | awk -v k="$1" '{
    re = "\"" k "\" *: *\"[^\"]*\""
    if (match($0, re)) { s = substr($0, RSTART, RLENGTH); sub(/^"[^"]*" *: *"/, "", s); sub(/"$/, "", s); print s }
  }'
}
fn=$(field FunctionName)
echo "$fn" >> "$CASE_TMP/calls"
step2_command() {  # chromosome -> JSON command array
  if [ "$1" = "$fail_chromosome" ]; then
    printf '["sh","-c","echo regenie failed on chromosome %s >&2; exit 1"]' "$1"
  else
    printf '["sh","-c","test \\"$CHROMOSOME\\" = %s && echo regenie step 2 chromosome %s"]' "$1" "$1"
  fi
}
case "$fn" in
  gwas-workflow-init) payload='{"workflowId":"wf-1","fsxPath":"/fsx/wf-1"}' ;;
  gwas-job-calculator) payload='{"chromosomes":["1","2","X"],"jobCount":3}' ;;
  gwas-command-parser)
    if [ "$(field step)" = 1 ]; then
      payload='{"command":["sh","-c","test \"$FSX_PATH\" = /fsx/wf-1 && echo regenie step 1"]}'
    else
      payload=$(printf '{"commands":[{"chromosome":"1","command":%s},{"chromosome":"2","command":%s},{"chromosome":"X","command":%s}]}' \
        "$(step2_command 1)" "$(step2_command 2)" "$(step2_command X)")
    fi ;;
  gwas-success-handler) payload='{"status":"COMPLETED"}' ;;
  gwas-error-handler) payload='{"status":"FAILED"}' ;;
  *) printf '{"Error":"Lambda.ResourceNotFoundException","Cause":"no function %s"}\n' "$fn"; exit 1 ;;
esac
printf '{"StatusCode":200,"Payload":%s}\n' "$payload"
