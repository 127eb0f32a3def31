// Runs a state machine with aws-local-stepfunctions (the independent reference interpreter
// of bench/asl/run.sh) and prints one JSON line like `sluice asl run`:
//   node reference.mjs DEFINITION.json [INPUT.json]
import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';

const [definitionPath, inputPath] = process.argv.slice(2);
const definition = JSON.parse(readFileSync(definitionPath, 'utf8'));
const input = inputPath ? JSON.parse(readFileSync(inputPath, 'utf8')) : {};
const machine = new StateMachine(definition);
try {
  const output = await machine.run(input).result;
  process.stdout.write(JSON.stringify({ status: 'SUCCEEDED', output }) + '\n');
} catch (e) {
  process.stdout.write(JSON.stringify({ status: 'FAILED', error: e.name, cause: e.message }) + '\n');
  process.exitCode = 1;
}
