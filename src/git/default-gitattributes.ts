import type { RepoType } from '../domain/names.js';

// The .gitattributes the Hugging Face Hub writes into every new repo: ML file types go to
// Git LFS, so `git add model.safetensors` in a fresh clone already does the right thing.
// Models and spaces get the first list; datasets add audio, image and video types.

const LFS = 'filter=lfs diff=lfs merge=lfs -text';

const ML_PATTERNS = [
  '*.7z', '*.arrow', '*.bin', '*.bz2', '*.ckpt', '*.ftz', '*.gz', '*.h5', '*.joblib', '*.lfs.*',
  '*.mlmodel', '*.model', '*.msgpack', '*.npy', '*.npz', '*.onnx', '*.ot', '*.parquet', '*.pb',
  '*.pickle', '*.pkl', '*.pt', '*.pth', '*.rar', '*.safetensors', 'saved_model/**/*', '*.tar.*',
  '*.tar', '*.tflite', '*.tgz', '*.wasm', '*.xz', '*.zip', '*.zst', '*tfevents*',
];

const DATASET_GROUPS: [string, string[]][] = [
  ['Audio files - uncompressed', ['*.pcm', '*.sam', '*.raw']],
  ['Audio files - compressed', ['*.aac', '*.flac', '*.mp3', '*.ogg', '*.wav']],
  ['Image files - uncompressed', ['*.bmp', '*.gif', '*.png', '*.tiff']],
  ['Image files - compressed', ['*.jpg', '*.jpeg', '*.webp']],
  ['Video files - compressed', ['*.mp4', '*.webm']],
];

const lines = (patterns: string[]) => patterns.map((p) => `${p} ${LFS}\n`).join('');

/** The content of a new repo's .gitattributes, as the Hub writes it for that repo type. */
export function defaultGitattributes(type: RepoType): string {
  let text = lines(ML_PATTERNS);
  if (type === 'dataset') {
    for (const [heading, patterns] of DATASET_GROUPS) text += `# ${heading}\n${lines(patterns)}`;
  }
  return text;
}
