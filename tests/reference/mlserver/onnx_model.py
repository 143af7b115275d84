"""An MLServer runtime that serves an ONNX file with onnxruntime: the model server of the
end-to-end tests that send the processor's `infer` step to a real Open Inference Protocol
server (MLServer 1.7.1, started by tests/src/mlserver.rs; pinned with onnxruntime in
requirements.txt beside this file).

model-settings.json names this class (`"implementation": "onnx_model.OnnxModel"`, the file
copied into the server's folder, which MLServer puts on sys.path) and the ONNX file
(`parameters.uri`, absolute or relative to the model's folder).

Each request input is decoded by its name, the session run, and every session output returned
under its own name, shape and datatype (FP32 for the tests' models) as onnxruntime computed it.
One thread for the session: the machines running the tests have two cores and run tests in
parallel.

A blank input (every value equal, as a blank image gives) is refused with HTTP 400 and a
message saying so: it stands for a server's own input validation, a permanent client error
(4xx) the processor must report as the task's failure and never retry. Inputs the model cannot
take (a shape or type it does not accept, a missing input) are 400 as well, as Triton answers
them; anything else failing is MLServer's 500.
"""

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri


class OnnxModel(MLModel):
    async def load(self) -> bool:
        path = await get_model_uri(self.settings)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            path, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._output_names = [output.name for output in self._session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        feeds = {}
        for request_input in payload.inputs:
            try:
                array = NumpyCodec.decode_input(request_input)
            except (ValueError, TypeError) as e:
                # e.g. `data` whose length is not the product of `shape`.
                raise InferenceError(f"input {request_input.name}: {e}") from e
            if array.size > 0 and np.all(array == array.flat[0]):
                raise InferenceError(
                    f"input {request_input.name} is blank: every value is "
                    f"{array.flat[0]}; this server refuses blank inputs"
                )
            feeds[request_input.name] = array
        try:
            results = self._session.run(self._output_names, feeds)
        except (ort.capi.onnxruntime_pybind11_state.InvalidArgument, ValueError) as e:
            # The inputs do not fit the model (shape, type, names): the client's fault.
            raise InferenceError(str(e)) from e
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[
                NumpyCodec.encode_output(name, result)
                for name, result in zip(self._output_names, results)
            ],
        )
