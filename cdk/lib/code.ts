import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';

/** What every function of the project is, whichever the code's source. */
export interface AutopilotFunctionProps {
  /** The Cargo binary (`functions/<binary>`), e.g. `accept-endpoint-connections`. */
  readonly binary: string;
  /** The function's logical id in template.yaml (SAM's build directory is named after it). */
  readonly samLogicalId: string;
  readonly options: lambda.FunctionOptions;
}

/**
 * Where the functions' code comes from.
 *
 * - `AutopilotCode.fromSource()`: cargo-lambda builds each function from this repository at
 *   synth time (`cargo lambda build --release --arm64` in the function's own package, as `sam
 *   build` does: the workspace's release profile, the package's own features). Needs Rust,
 *   cargo-lambda and Zig (or the arm64 target's linker) where `cdk synth` runs.
 * - `AutopilotCode.fromDirectory(dir)`: arm64 bootstraps built beforehand: `make build`'s
 *   `.aws-sam/build` (one directory per function, named by its template.yaml logical id) or
 *   `cargo lambda build --release --arm64`'s `target/lambda` (one per binary). No Rust needed.
 */
export abstract class AutopilotCode {
  /** Build from source with cargo-lambda. `repository` defaults to the checkout this package is in. */
  static fromSource(repository?: string): AutopilotCode {
    return new SourceCode(repository ?? path.join(__dirname, '..', '..', '..'));
  }

  /** Prebuilt arm64 bootstraps under `directory` (`<binary>/bootstrap` or `<SamLogicalId>/bootstrap`). */
  static fromDirectory(directory: string): AutopilotCode {
    return new PrebuiltCode(directory);
  }

  /** @internal */
  abstract _function(scope: Construct, id: string, props: AutopilotFunctionProps): lambda.Function;
}

const COMMON = {
  architecture: lambda.Architecture.ARM_64,
  runtime: lambda.Runtime.PROVIDED_AL2023,
  handler: 'bootstrap',
};

class SourceCode extends AutopilotCode {
  constructor(private readonly repository: string) {
    super();
  }

  _function(scope: Construct, id: string, props: AutopilotFunctionProps): lambda.Function {
    // Built in the function's package, not at the workspace root: cargo would otherwise unify
    // the features of every member (the CLI's among them) into the function's dependencies.
    const manifestPath = path.join(this.repository, 'functions', props.binary, 'Cargo.toml');
    if (!fs.existsSync(manifestPath)) {
      throw new Error(`AutopilotCode.fromSource: ${manifestPath} not found; give the repository's root directory`);
    }
    return new RustFunction(scope, id, {
      ...props.options,
      manifestPath,
      binaryName: props.binary,
      architecture: COMMON.architecture,
      runtime: 'provided.al2023',
    });
  }
}

class PrebuiltCode extends AutopilotCode {
  constructor(private readonly directory: string) {
    super();
  }

  _function(scope: Construct, id: string, props: AutopilotFunctionProps): lambda.Function {
    const candidates = [props.binary, props.samLogicalId].map((d) => path.join(this.directory, d));
    const found = candidates.find((d) => fs.existsSync(path.join(d, 'bootstrap')));
    if (found === undefined) {
      throw new Error(
        `AutopilotCode.fromDirectory: no bootstrap for ${props.binary} in ${this.directory} ` +
          `(looked for ${candidates.map((d) => path.join(d, 'bootstrap')).join(' and ')}); ` +
          'run `make build` (or `cargo lambda build --release --arm64`) first',
      );
    }
    return new lambda.Function(scope, id, { ...props.options, ...COMMON, code: lambda.Code.fromAsset(found) });
  }
}
