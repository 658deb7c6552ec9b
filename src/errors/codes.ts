// The single table of error codes: code → stage, title, hint. Messages are rendered from this data.

export type Stage = 'input' | 'import' | 'ir' | 'pass' | 'calibrate' | 'emit' | 'bundle' | 'runtime' | 'cli';

export interface ErrorCodeInfo {
  readonly stage: Stage;
  readonly title: string;
  readonly hint: string;
}

export const ERROR_CODES = {
  CONFIG_MISSING: { stage: 'import', title: 'config.json not found', hint: 'point <model> at a HuggingFace model folder that contains config.json' },
  CONFIG_INVALID: { stage: 'import', title: 'config.json is not valid', hint: 'fix the listed fields; compare with the model card\'s config.json' },
  MODEL_TYPE_UNSUPPORTED: { stage: 'import', title: 'model_type is not supported', hint: 'use one of the supported model types' },
  MODEL_NOT_FOUND: { stage: 'input', title: 'model not found', hint: 'give a local folder, an .onnx file, a .snn bundle or a hub id (ORG/NAME)' },
  HUB_NOT_CACHED: { stage: 'input', title: 'hub model is not in the local HF cache', hint: 'run once without --offline to download it, or set HF_HOME to the cache that holds it' },
  HUB_DOWNLOAD_FAILED: { stage: 'input', title: 'hub download failed', hint: 'check the network, the model id and --revision, or use --offline with a cached copy' },
  WEIGHTS_MISSING: { stage: 'import', title: 'model weights not found', hint: 'the folder needs model.safetensors or model.safetensors.index.json with its shards' },
  SAFETENSORS_INVALID: { stage: 'import', title: 'safetensors file is invalid', hint: 'the file is damaged or truncated: download it again' },
  TENSOR_MISSING: { stage: 'import', title: 'a weight tensor is missing', hint: 'the checkpoint does not match config.json; check that both come from the same model' },
  TENSOR_SHAPE: { stage: 'import', title: 'a weight tensor has the wrong shape', hint: 'the checkpoint does not match config.json; check that both come from the same model' },
  TENSOR_NONFINITE: { stage: 'import', title: 'a weight tensor holds NaN or Inf', hint: 'the checkpoint is damaged; pass --allow-nonfinite to convert anyway (results will be meaningless where those weights act)' },
  TENSOR_DTYPE: { stage: 'import', title: 'a weight tensor has an unsupported dtype', hint: 'weights must be F32, F16, BF16 or F64; re-save the checkpoint in one of these' },
  TOKENIZER_INVALID: { stage: 'import', title: 'tokenizer could not be loaded', hint: 'the folder needs tokenizer.json (and tokenizer_config.json)' },
  ONNX_INVALID: { stage: 'import', title: 'ONNX model could not be read', hint: 'check that the file is an ONNX ModelProto' },
  OP_UNSUPPORTED: { stage: 'ir', title: 'operator is not supported', hint: 'see the supported ops in the README; open an issue with the model that needs it' },
  GRAPH_INVALID: { stage: 'ir', title: 'graph is not valid', hint: 'this is a bug in a pass or importer: report it with the model' },
  OPTION_INVALID: { stage: 'input', title: 'invalid option', hint: 'use one of the valid values' },
  CALIBRATION_TEXT: { stage: 'calibrate', title: 'calibration text is too short', hint: 'give a longer --calib-text, or fewer --calib-samples / a smaller --calib-length' },
  OUTPUT_EXISTS: { stage: 'emit', title: 'output already exists', hint: 'choose another -o path or pass --force to replace it' },
  WRITE_FAILED: { stage: 'emit', title: 'writing the output failed', hint: 'check free disk space and permissions; nothing was left behind' },
  BUNDLE_INVALID: { stage: 'bundle', title: 'bundle is invalid', hint: 'convert the model again; do not edit files inside a .snn bundle' },
  BUNDLE_TAMPERED: { stage: 'bundle', title: 'bundle file does not match its recorded sha256', hint: 'the bundle was modified or damaged: convert the model again' },
  DEVICE_UNAVAILABLE: { stage: 'runtime', title: 'device is not available', hint: 'use --device cpu, or install the execution provider' },
  INPUT_INVALID: { stage: 'runtime', title: 'invalid model input', hint: 'check the token ids, masks and batch ids you pass' },
  CONTEXT_OVERFLOW: { stage: 'runtime', title: 'context length exceeded', hint: "shorten the input, call resetCache(), or use overflow: 'slide'" },
  BATCH_UNKNOWN: { stage: 'runtime', title: 'unknown batch id', hint: 'start the conversation with forward() before using its id' },
  RUN_FAILED: { stage: 'runtime', title: 'the model run failed', hint: 'onnxruntime refused the step; no conversation state was changed. Rerun with --verbose and report it with the model' },
  TEXT_INVALID: { stage: 'input', title: 'input text is not usable', hint: 'give a non-empty UTF-8 text file long enough for one window' },
  DEVICE_RUN_FAILED: { stage: 'runtime', title: 'the device could not run this graph', hint: 'run it with --device cpu; snnconvert inspect <bundle> --device webgpu lists which nodes run where' },
  ONNX_OPSET_UNSUPPORTED: { stage: 'import', title: 'ONNX opset is not supported', hint: 'export the model again with an opset from 13 to 21 (torch.onnx.export(..., opset_version=17))' },
  ONNX_EXTERNAL_DATA: { stage: 'import', title: 'ONNX external data is missing or invalid', hint: 'keep the external data files beside model.onnx, as the exporter wrote them' },
  ONNX_NOT_LIFTABLE: { stage: 'import', title: 'ONNX nodes could not be lifted into the IR', hint: 'snnconvert lifts GPT-2 and Llama style causal LMs; open an issue with the model and the nodes listed' },
  ONNX_NO_LOGITS: { stage: 'import', title: 'ONNX graph has no logits output', hint: 'export the causal LM with its LM head (an output named "logits"), e.g. optimum-cli export onnx --task text-generation-with-past' },
  SERVE_REQUEST_INVALID: { stage: 'input', title: 'invalid request', hint: 'send a JSON body in the OpenAI format with only the supported fields (see the README, Serving)' },
  SERVE_MODEL_UNKNOWN: { stage: 'input', title: 'model not served here', hint: 'use the model id listed by GET /v1/models, or omit "model"' },
  SERVE_QUEUE_FULL: { stage: 'runtime', title: 'server is busy', hint: 'retry after the Retry-After seconds, or start the server with a larger --max-queue' },
  SERVE_BIND_FAILED: { stage: 'cli', title: 'the server could not listen', hint: 'choose another --port (0 picks a free one) or stop the process that holds it' },
  // Serve safe to expose (auth, origin checks, body faults), every OpenAI request field
  SERVE_FIELD_UNSUPPORTED: { stage: 'input', title: 'a request field asks for something this server does not do', hint: 'drop the field or send its neutral value (see the README, Serving: request fields)' },
  SERVE_BODY_MALFORMED: { stage: 'input', title: 'the request body is not UTF-8 JSON', hint: 'send a UTF-8 JSON object with Content-Type: application/json' },
  SERVE_BODY_TOO_LARGE: { stage: 'input', title: 'the request body is too large', hint: 'send at most 1 MiB of JSON (a prompt beyond the context cannot be served anyway)' },
  SERVE_BODY_TIMEOUT: { stage: 'input', title: 'the request body arrived too slowly', hint: 'send the whole body at once; the server waits a bounded time for it' },
  SERVE_MEDIA_TYPE: { stage: 'input', title: 'the request body is not declared as JSON', hint: 'send Content-Type: application/json (curl: -H "Content-Type: application/json")' },
  SERVE_UNAUTHORIZED: { stage: 'input', title: 'missing or wrong API key', hint: 'send Authorization: Bearer <key> with a key given to serve by --api-key, --api-key-file or SNNCONVERT_API_KEYS' },
  SERVE_FORBIDDEN: { stage: 'input', title: 'request from a host or origin this server does not accept', hint: 'call the server by its loopback address (localhost, 127.0.0.1, [::1]); a web page needs serve --cors-origin <its origin>' },
  SERVE_METHOD_NOT_ALLOWED: { stage: 'input', title: 'method not allowed on this route', hint: 'use the method named in the Allow header' },
  SERVE_ROUTE_UNKNOWN: { stage: 'input', title: 'no such route', hint: 'routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, GET /metrics' },
  SERVE_CLIENT_GONE: { stage: 'runtime', title: 'the client went away', hint: 'nothing to do: the request was dropped and everything it held freed' },
  // Checkpoints and exports as users have them (families, transformers.js folders, CLI input checks)
  ARCH_UNSUPPORTED: { stage: 'import', title: 'model family is not supported', hint: 'convert a GPT-2, Llama, OPT or Qwen2 model (the README lists the supported families and layouts)' },
  ALREADY_A_BUNDLE: { stage: 'input', title: 'input is already a .snn bundle', hint: 'run the bundle with generate, chat, eval or inspect; to convert again, give the source model' },
  ONNX_QUANTIZED: { stage: 'import', title: 'quantized ONNX exports are not converted', hint: 'convert the fp32 export beside it (onnx/model.onnx)' },
  ONNX_HALF_MIXED: { stage: 'import', title: 'the ONNX export mixes float16 and bfloat16', hint: 'convert the fp32 export (onnx/model.onnx), or an export in one half type (transformers.js model_fp16.onnx)' },
  // Calibration that covers the context within a stated memory budget
  CALIBRATION_BUDGET: { stage: 'calibrate', title: 'calibration does not fit in memory', hint: 'use a smaller --calib-length; positions beyond it are recorded as uncalibrated and warned about' },
  // Conversion at real sizes
  MEMORY_INSUFFICIENT: { stage: 'input', title: 'the model does not fit in the memory available', hint: 'convert with --no-report, or on a machine with more memory' },
  REPORT_BUDGET: { stage: 'input', title: 'the report budget is too small for one window', hint: 'raise --report-memory or give a smaller --window' },
  DISK_INSUFFICIENT: { stage: 'input', title: 'not enough free disk space for the float32 weights', hint: 'free space in the temp folder, or set TMPDIR to a file system with room' },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;
