package io.spindle.deploy;

import io.spindle.driver.checkpoint.CheckpointPause;
import java.io.IOException;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.fs.s3a.S3AFileSystem;
import org.apache.hadoop.util.Progressable;

/**
 * S3A, pausing where {@link CheckpointPause} says (tests only): installed as {@code fs.s3a.impl} in
 * the driver's JVM alone, so the driver can be killed between a checkpoint's uploads.
 */
public class PausingS3AFileSystem extends S3AFileSystem {
  @Override
  public FSDataOutputStream create(
      Path f,
      FsPermission permission,
      boolean overwrite,
      int bufferSize,
      short replication,
      long blockSize,
      Progressable progress)
      throws IOException {
    CheckpointPause.beforeCreate(getConf(), f);
    return super.create(f, permission, overwrite, bufferSize, replication, blockSize, progress);
  }
}
