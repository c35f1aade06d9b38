// The product's `glasshouse` command (see agent-main.ts).
import { agentMain } from './agent-main.js';

process.exitCode = await agentMain(process.argv);
