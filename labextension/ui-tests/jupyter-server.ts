/**
 * Starts JupyterLab for the UI tests: loopback, a free port, a random token,
 * a temporary root holding copies of the fixture notebooks, only this
 * extension (the freshly built `jupyter_blocks/labextension`) and the
 * jupyter_blocks server extension. Notebooks are windowed ('full' mode) so
 * off-screen cells really leave the DOM.
 */
import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

const REPO = path.resolve(__dirname, '..', '..');
const BUILT = path.join(REPO, 'jupyter_blocks', 'labextension');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForServer(url: string, token: string, server: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) {
      throw new Error(`JupyterLab exited with ${server.exitCode}:\n${log()}`);
    }
    try {
      const response = await fetch(`${url}api/status`, { headers: { Authorization: `token ${token}` } });
      if (response.ok) {
        return;
      }
    } catch {
      // Not listening yet.
    }
    await new Promise(r => setTimeout(r, 300));
  }
  throw new Error(`JupyterLab did not start within 90 s:\n${log()}`);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!fs.existsSync(path.join(BUILT, 'package.json'))) {
    throw new Error(`no built extension in ${BUILT}: run \`jlpm build\` in labextension/ first`);
  }
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'jupyter-blocks-ui-'));
  const root = path.join(temp, 'root');
  const labextensions = path.join(temp, 'labextensions');
  const settings = path.join(temp, 'settings', '@jupyterlab', 'notebook-extension');
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(labextensions, { recursive: true });
  fs.mkdirSync(settings, { recursive: true });
  fs.symlinkSync(BUILT, path.join(labextensions, 'jupyter-blocks'));
  fs.writeFileSync(path.join(settings, 'tracker.jupyterlab-settings'), JSON.stringify({ windowingMode: 'full' }));
  const notifications = path.join(temp, 'settings', '@jupyterlab', 'apputils-extension');
  fs.mkdirSync(notifications, { recursive: true });
  fs.writeFileSync(path.join(notifications, 'notification.jupyterlab-settings'), JSON.stringify({ fetchNews: 'false' }));
  for (const name of fs.readdirSync(path.join(__dirname, 'fixtures'))) {
    fs.copyFileSync(path.join(__dirname, 'fixtures', name), path.join(root, name));
  }

  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const config = {
    ServerApp: {
      ip: '127.0.0.1',
      port,
      port_retries: 0,
      open_browser: false,
      allow_root: true,
      root_dir: root,
      jpserver_extensions: { jupyter_blocks: true }
    },
    IdentityProvider: { token },
    LabApp: {
      labextensions_path: [labextensions],
      extra_labextensions_path: [],
      user_settings_dir: path.join(temp, 'settings'),
      workspaces_dir: path.join(temp, 'workspaces'),
      expose_app_in_browser: true,
      news_url: null,
      check_for_updates_class: 'jupyterlab.NeverCheckForUpdate'
    }
  };
  const configFile = path.join(temp, 'jupyter_lab_config.json');
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));

  const python = process.env.JUPYTER_BLOCKS_PYTHON || 'python3';
  let output = '';
  const server = spawn(python, ['-m', 'jupyterlab', `--config=${configFile}`], {
    cwd: root,
    env: {
      ...process.env,
      PYTHONPATH: [REPO, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
      JUPYTER_CONFIG_DIR: path.join(temp, 'config'),
      JUPYTER_RUNTIME_DIR: path.join(temp, 'runtime'),
      IPYTHONDIR: path.join(temp, 'ipython')
    },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  server.stdout!.on('data', collect);
  server.stderr!.on('data', collect);

  const url = `http://127.0.0.1:${port}/`;
  await waitForServer(url, token, server, () => output);
  process.env.JUPYTER_BLOCKS_URL = url;
  process.env.JUPYTER_BLOCKS_TOKEN = token;
  process.env.JUPYTER_BLOCKS_ROOT = root;

  return async () => {
    server.kill('SIGTERM');
    await new Promise(resolve => {
      const timer = setTimeout(() => {
        server.kill('SIGKILL');
        resolve(null);
      }, 10_000);
      server.on('exit', () => {
        clearTimeout(timer);
        resolve(null);
      });
    });
    if (process.env.JUPYTER_BLOCKS_UI_KEEP !== '1') {
      fs.rmSync(temp, { recursive: true, force: true });
    }
    if (process.env.JUPYTER_BLOCKS_UI_LOG) {
      fs.writeFileSync(process.env.JUPYTER_BLOCKS_UI_LOG, output);
    }
  };
}
